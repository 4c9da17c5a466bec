import DployPlan
import DployRender
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads the files dploy manages, as they are on disk now: the observed half of a plan.
///
/// Plain POSIX calls: a fleet of ten thousand machines means some thirty thousand small
/// files in ten thousand folders. With an `ObservationCache` (the daemon keeps one) a
/// folder whose stat data is unchanged is not listed again and a file whose device,
/// inode, size, mtime and ctime are unchanged is not read again, as git's index does for
/// a work tree: a quiet fleet costs one `stat` per file.
public enum ObservedFiles {
    /// - Parameters:
    ///   - dhcpFileNames: the DHCP files of the configured backend; the rest of the
    ///     DHCP folder belongs to the operator and is never read.
    ///   - verify: whether to look at every file (stat each, read the changed). Without it, a
    ///     cache that trusts what it saw (`ObservationCache.Trust`) looks again only at what
    ///     inotify named and what the last apply wrote; a cache that trusts nothing, or that
    ///     lost track (the kernel's queue overflowed), looks at everything anyway.
    public static func read(_ folders: OutputFolders, dhcpFileNames: [String],
                            cache: ObservationCache? = nil, verify: Bool = true) throws -> [OutputPath: ObservedFile] {
        let cache = cache ?? ObservationCache()
        let singles = [BootPaths.ipxeEntry] + dhcpFileNames.map { OutputPath(.dhcp, $0) }
        let managed = ObservedState.managedFolders.map { (root, folder) in (folders.folder(root) + "/" + folder, OutputPath(root, folder)) }
        if !verify, let files = try cache.refreshed(folders, managed: managed.map(\.0), singles: singles) { return files }
        cache.beginVerification(managed: managed.map(\.0))
        var files: [OutputPath: ObservedFile] = [:]
        for (diskPath, path) in managed {
            try cache.walk(diskPath, as: path) { path, observed in
                files[path] = observed
            }
        }
        for single in singles {
            if let observed = try cache.file(folders.diskPath(single)) { files[single] = observed }
        }
        cache.verified(files)
        return files
    }
}

extension OutputPath {
    /// The folder holding this path, and its name in that folder.
    var split: (folder: OutputPath, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (OutputPath(root, ""), path) }
        return (OutputPath(root, String(path[..<slash])), String(path[path.index(after: slash)...]))
    }
}

/// Folder listings and file contents seen before, with the stat data they were seen under.
/// Not Sendable in spirit: one reconcile loop owns it.
public final class ObservationCache: @unchecked Sendable {
    /// What a cache may take as still true between verifications.
    public enum Trust: Sendable, Hashable {
        /// Nothing: every observation stats every file (`dploy plan`, `dploy apply`, tests).
        case nothing
        /// What it saw, but for the entries inotify names and the files the last apply wrote or
        /// removed: the daemon's default. Falls back to `nothing` when inotify cannot watch
        /// every folder (see `problem`).
        case watched
        /// What it saw, but for the files the last apply wrote or removed: edits by others are
        /// found only at the next verification (`output.watch: false`, for a filesystem whose
        /// writers inotify does not see, such as NFS written from another host).
        case ownWrites
    }

    public private(set) var trust: Trust
    /// Why the cache stopped trusting what it saw (inotify refused a watch), once; the daemon logs it.
    public private(set) var problem: String?
    /// Bumped whenever the observed files may differ from the last observation's: a caller
    /// that planned against version N and sees N again may take the files as unchanged.
    public private(set) var version = 0
    /// The files as last observed, between verifications; nil until the first, and while an
    /// observation is under way.
    private var snapshot: [OutputPath: ObservedFile]?
    /// The snapshot a verification under way compares its walk with, to tell whether the
    /// files changed (`version`).
    private var previous: [OutputPath: ObservedFile]?
    /// Paths an apply wrote or removed since the last observation.
    private var touched: Set<OutputPath> = []
    private var watch: OutputWatch?
    /// Each watched folder, by its watch: its disk path, output path, and the folder that was at
    /// that path when it was watched (a self event means it moved or went only when another,
    /// or none, is there now).
    private var watched: [Int32: (diskPath: String, path: OutputPath, identity: Identity)] = [:]
    /// Which folder each managed folder's path led to (symlinks followed) when last walked, by
    /// disk path; nil for a path that led to none. A folder replaced whole (a parent renamed
    /// and a fresh tree put back, a symlink swapped with `ln -sfn`, a mount over it) sends no
    /// event to the watches on the old one: a refresh compares these first.
    private var managedFolders: [String: Identity?] = [:]
    /// Full observations made (every file looked at), for tests: a trusted read that fell
    /// back to one does not say so otherwise.
    private(set) var fullWalks = 0
    /// How many times an observation found something other than what the cache held: a file
    /// read anew, a file seen before gone, a folder listed anew. Zero after observations
    /// that found everything as the cache had it (a one-shot apply then knows the files are
    /// those of its last run without comparing them).
    public private(set) var differencesFound = 0
    /// How many folders are watched, for tests.
    var watchedFolders: Int { watched.count }

    /// Which file a path leads to: device and inode.
    struct Identity: Equatable {
        var device: UInt64, inode: UInt64

        init(_ status: stat) {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
        }

        /// The folder at `path` now, following symlinks (or, `following: false`, only those
        /// above it); nil when there is none.
        static func folder(at path: String, following: Bool = true) -> Identity? {
            var status = stat()
            guard (following ? stat(path, &status) : lstat(path, &status)) == 0, (status.st_mode & S_IFMT) == S_IFDIR else { return nil }
            return Identity(status)
        }
    }

    /// What identifies a version of a file or folder without reading it: device, inode, size,
    /// and modification and change times to the nanosecond (the change time moves on any
    /// write, rename or chmod; the device, when a filesystem is mounted over a folder). In 40
    /// bytes, since the daemon keeps one per file of the fleet.
    struct Stamp: Equatable {
        var device: UInt64, inode: UInt64, size: Int64, modified: Int64, changed: Int64

        init(device: UInt64, inode: UInt64, size: Int64, modified: Int64, changed: Int64) {
            (self.device, self.inode, self.size, self.modified, self.changed) = (device, inode, size, modified, changed)
        }

        /// No file or folder has this stamp (a change time of 0): one that must be looked at again.
        static let never = Stamp(device: 0, inode: 0, size: -1, modified: 0, changed: 0)

        init(_ status: stat) {
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
            size = Int64(status.st_size)
            modified = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
            changed = Int64(status.st_ctim.tv_sec) * 1_000_000_000 + Int64(status.st_ctim.tv_nsec)
        }
    }

    /// A folder entry: only its name is kept (paths are joined while walking), since a
    /// fleet's output is tens of thousands of entries a daemon holds for its whole life.
    /// A file's last observation lives in its entry too, rather than in a table by full
    /// path: thirty thousand paths of some eighty bytes, and the table over them, were a
    /// fifth of a 10,000-machine daemon's heap.
    struct Child {
        var name: String
        var isFolder: Bool
        var seen: Seen?
    }

    /// A file as last read, with the stat data it was read under.
    struct Seen {
        var stamp: Stamp
        var file: ObservedFile
    }

    /// Internal, not private: `ObservationCache+Persisted` writes and reads them.
    var folders: [String: (stamp: Stamp, children: [Child])] = [:]
    /// Files read outside a walk (the iPXE entry script, the DHCP files), by path: a handful.
    var singles: [String: Seen] = [:]

    public convenience init(trust: Trust = .nothing) {
        self.init(trust: trust, refusingWatches: nil)
    }

    /// `refusingWatches`, for tests: inotify refuses every watch with that errno.
    init(trust: Trust, refusingWatches: Int32?) {
        self.trust = trust
        if trust == .watched {
            watch = OutputWatch(refusing: refusingWatches)
            if watch == nil { stopTrusting("cannot open an inotify instance: \(String(cString: strerror(errno)))") }
        }
    }

    private func stopTrusting(_ reason: String) {
        trust = .nothing
        watch = nil
        watched = [:]
        problem = "\(reason); every run looks at every output file instead, until dploy restarts"
    }

    /// The observed files after an apply wrote or removed `paths`: they are looked at again
    /// next time, whatever the trust (the apply is the daemon's own, its result is known to
    /// differ, and without inotify nothing else would say so).
    public func touched(_ paths: some Sequence<OutputPath>) {
        touched.formUnion(paths)
    }

    /// Whether the files must all be looked at now: never verified, or last verified at least
    /// `interval` before `now`. Pure: the caller's clock decides.
    public static func verificationDue(lastVerified: Date?, now: Date, interval: TimeInterval) -> Bool {
        guard let lastVerified else { return true }
        return now.timeIntervalSince(lastVerified) >= interval || now < lastVerified
    }

    /// When every file was last looked at (set by the caller that decides the cadence).
    public var lastVerified: Date?

    /// Forgets what is queued: the walk about to start looks at everything anyway.
    fileprivate func beginVerification(managed: [String]) {
        fullWalks += 1
        let now = Dictionary(managed.map { ($0, Identity.folder(at: $0)) }) { first, _ in first }
        if now != managedFolders, let watch {
            // A folder replaced whole: the watches on the old tree would name paths of the new.
            for descriptor in watched.keys { watch.remove(descriptor) }
            watched = [:]
        }
        managedFolders = now
        _ = watch?.drain()
        touched = []
        previous = snapshot
        snapshot = nil
    }

    /// Keeps a full observation as the snapshot later ones start from.
    fileprivate func verified(_ files: [OutputPath: ObservedFile]) {
        if previous != files { version += 1 }
        previous = nil
        snapshot = trust == .nothing ? nil : files
    }

    /// The snapshot brought up to date with what inotify named and the apply touched; nil
    /// when it cannot be trusted (no snapshot, no trust, the kernel dropped events, a managed
    /// folder itself went away or was replaced, a file written where no folder was seen): then
    /// the caller walks everything.
    fileprivate func refreshed(_ folders: OutputFolders, managed: [String], singles: [OutputPath]) throws -> [OutputPath: ObservedFile]? {
        guard trust != .nothing, var files = snapshot else { return nil }
        // One stat each: a managed folder's path that leads elsewhere now was replaced whole,
        // which no watch (nor, without inotify, any apply) says.
        for path in managed {
            guard let before = managedFolders[path], before == Identity.folder(at: path) else { return nil }
        }
        // Until this refresh finishes there is none: one that throws halfway has drained the
        // queue, so the next observation must walk everything. (It also leaves `files` the
        // only reference to its storage, so it is updated in place, not copied.)
        snapshot = nil
        var entries: [(folder: String, path: OutputPath, name: String)] = []
        if let watch {
            guard case .entries(let changes) = watch.drain() else { return nil }
            for change in changes {
                guard let folder = watched[change.watch] else { continue }
                if change.name.isEmpty {
                    // The folder this watch was added for is still at its path: moved away and
                    // back, or the event is older than the walk that watched it there again.
                    if Identity.folder(at: folder.diskPath, following: false) == folder.identity { continue }
                    // A folder itself moved or went: its parent's event covers it (a folder
                    // moved within the tree is watched again when walked), unless it is a
                    // managed folder, whose parent nobody watches. A folder moved out of the
                    // tree would go on reporting what happens to it there.
                    watched[change.watch] = nil
                    watch.remove(change.watch)
                    if !folder.path.path.contains("/") { return nil }
                    continue
                }
                entries.append((folder.diskPath, folder.path, change.name))
            }
        }
        for path in touched where !singles.contains(path) {
            // The entry to look at again is the highest folder not seen yet (an installer
            // folder the apply made), or the file itself.
            var (parent, name) = path.split
            while self.folders[folders.diskPath(parent)] == nil {
                guard parent.path.contains("/") else { return nil }
                (parent, name) = parent.split
            }
            entries.append((folders.diskPath(parent), parent, name))
        }
        touched = []
        var changed = false
        var seen: Set<String> = []
        for entry in entries where !entry.name.hasPrefix(".") && seen.insert(entry.folder + "/" + entry.name).inserted {
            try refresh(entry.name, in: entry.folder, as: entry.path, files: &files)
            changed = true
        }
        // The few files outside the managed folders: one stat each, every run.
        for single in singles {
            let observed = try file(folders.diskPath(single))
            if files[single] != observed {
                files[single] = observed
                changed = true
            }
        }
        if changed { version += 1 }
        snapshot = files
        return files
    }

    /// Looks at one entry of a walked folder again: a file read anew when its stamp moved, a
    /// folder walked anew, a name that is gone dropped with everything seen below it.
    private func refresh(_ name: String, in folder: String, as folderPath: OutputPath,
                         files: inout [OutputPath: ObservedFile]) throws {
        guard var entry = folders[folder] else { return }
        folders[folder]?.children = []
        defer { folders[folder] = entry }
        let diskPath = folder + "/" + name
        let path = OutputPath(folderPath.root, folderPath.path + "/" + name)
        var status = stat()
        let exists = lstat(diskPath, &status) == 0
        let kind = status.st_mode & S_IFMT
        var before: Seen?
        if let index = entry.children.firstIndex(where: { $0.name == name }) {
            let old = entry.children.remove(at: index)
            if old.isFolder { forget(diskPath, as: path, files: &files) } else { files[path] = nil }
            before = old.seen
        }
        guard exists, kind == S_IFDIR || kind == S_IFREG else { return }
        if kind == S_IFDIR {
            entry.children.append(Child(name: name, isFolder: true, seen: nil))
            try walk(diskPath, as: path) { files[$0] = $1 }
        } else {
            let seen = try observe(diskPath, seen: before)
            entry.children.append(Child(name: name, isFolder: false, seen: seen))
            files[path] = seen?.file
        }
    }

    /// Drops a folder seen before, and every file seen below it, from the cache and `files`.
    private func forget(_ diskPath: String, as path: OutputPath, files: inout [OutputPath: ObservedFile]) {
        guard let entry = folders.removeValue(forKey: diskPath) else { return }
        for child in entry.children {
            let childPath = OutputPath(path.root, path.path + "/" + child.name)
            if child.isFolder { forget(diskPath + "/" + child.name, as: childPath, files: &files) } else { files[childPath] = nil }
        }
    }

    /// Calls `visit` for every regular file below `diskPath`, skipping hidden names (staged temporaries).
    func walk(_ diskPath: String, as path: OutputPath, _ visit: (OutputPath, ObservedFile) -> Void) throws {
        // Watched before its stamp is read and it is listed, so that a change after either is
        // queued. A folder gone by now (or never there) is not watched: its parent's watch
        // says when one appears.
        var descriptor: Int32?
        if let watch {
            switch watch.add(diskPath) {
            case .success(let added): descriptor = added
            case .failure(let error) where error.isGone: break
            case .failure(let error): stopTrusting(error.description)
            }
        }
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR else {
            if folders[diskPath] != nil { differencesFound += 1 }
            return
        }
        if let descriptor, watch != nil { watched[descriptor] = (diskPath, path, Identity(status)) }
        let stamp = Stamp(status)
        // Taken out of the table while walking, so that updating an entry does not copy the array.
        var children = folders[diskPath]?.children ?? []
        folders[diskPath]?.children = []
        if folders[diskPath]?.stamp != stamp {
            differencesFound += 1
            // Listed again; files seen before keep what was read of them (their stamps decide).
            let seen = Dictionary(children.compactMap { child in child.seen.map { (child.name, $0) } }) { first, _ in first }
            children = list(diskPath).map { Child(name: $0.name, isFolder: $0.isFolder, seen: seen[$0.name]) }
        }
        defer { folders[diskPath] = (stamp, children) }
        for index in children.indices {
            let name = children[index].name
            let childDiskPath = diskPath + "/" + name
            if children[index].isFolder {
                try walk(childDiskPath, as: OutputPath(path.root, path.path + "/" + name), visit)
            } else {
                children[index].seen = try observe(childDiskPath, seen: children[index].seen)
                if let observed = children[index].seen?.file {
                    visit(OutputPath(path.root, path.path + "/" + name), observed)
                }
            }
        }
    }

    func list(_ diskPath: String) -> [(name: String, isFolder: Bool)] {
        guard let directory = opendir(diskPath) else { return [] }
        defer { closedir(directory) }
        var children: [(name: String, isFolder: Bool)] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(".") { continue }
            let childPath = diskPath + "/" + name
            var isFolder = Int32(entry.pointee.d_type) == Int32(DT_DIR)
            if Int32(entry.pointee.d_type) == Int32(DT_UNKNOWN) {
                // Some filesystems do not say in readdir what an entry is.
                var status = stat()
                isFolder = lstat(childPath, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
            }
            children.append((name, isFolder))
        }
        return children
    }

    /// A regular file as observed, from the cache when its stamp is unchanged; nil when
    /// there is no regular file at `diskPath`. Only the digest and owner are kept.
    func file(_ diskPath: String) throws -> ObservedFile? {
        singles[diskPath] = try observe(diskPath, seen: singles[diskPath])
        return singles[diskPath]?.file
    }

    /// The file at `diskPath` now: `seen` again when its stamp is unchanged, else read anew;
    /// nil when there is no regular file there.
    private func observe(_ diskPath: String, seen: Seen?) throws -> Seen? {
        var status = stat()
        guard lstat(diskPath, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            if seen != nil { differencesFound += 1 }
            return nil
        }
        if let seen, seen.stamp == Stamp(status) { return seen }
        differencesFound += 1
        guard let (file, readStatus) = try Self.read(diskPath) else { return nil }
        return Seen(stamp: Stamp(readStatus), file: file)
    }

    /// A regular file as observed (its digest, hashed as it is read in blocks of 64 KiB, and
    /// its owner from the first bytes) and the stat data it belongs to. Never the whole file
    /// in memory: a 20 GB file someone left in an output folder once took a daemon's memory.
    static func read(_ path: String) throws -> (ObservedFile, stat)? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT || errno == EISDIR { return nil }
            throw ApplyError.unreadable(path)
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ApplyError.unreadable(path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        var hasher = ContentHasher()
        var head: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = block.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if count < 0 { throw ApplyError.unreadable(path) }
                break
            }
            hasher.update(block[..<count])
            if head.count < 200 { head += block[..<min(count, 200 - head.count)] }
        }
        return (ObservedFile(digest: hasher.finalize(), head: head), status)
    }
}
