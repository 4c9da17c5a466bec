@testable import DployApply
import DployPlan
import DployRender
import DployTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

@Suite("Observed files, through the daemon's observation cache", .ownThread)
struct ObservedFilesTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-observed-\(UUID().uuidString)").path
    var folders: OutputFolders { OutputFolders(http: root + "/http", tftp: root + "/tftp", dhcp: root + "/dhcp") }

    func write(_ path: String, _ text: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    /// One machine's boot script, installer answer and pxelinux config, and a DHCP hosts file.
    func writeWeb01() throws {
        try write("http/ipxe/94-18-82-00-00-01.ipxe", "#!ipxe\n# dploy: web-01 (94:18:82:00:00:01)\nexit\n")
        try write("http/installers/web-01/preseed.cfg", "d-i one\n")
        try write("tftp/pxelinux.cfg/01-94-18-82-00-00-01", "# dploy: web-01 (94:18:82:00:00:01)\n")
        try write("dhcp/dploy.hosts", "hosts\n")
    }

    func read(_ cache: ObservationCache, verify: Bool = true) throws -> [String: ObservedFile] {
        Dictionary(uniqueKeysWithValues: try ObservedFiles.read(folders, dhcpFileNames: ["dploy.hosts"], cache: cache, verify: verify)
            .map { ($0.key.description, $0.value) })
    }

    /// web-01's files, observed once by a new cache that trusts what it saw.
    func observedWeb01(trust: ObservationCache.Trust) throws -> ObservationCache {
        try writeWeb01()
        let cache = ObservationCache(trust: trust)
        try #require(cache.trust == trust, "\(cache.problem ?? "")")
        _ = try read(cache)
        return cache
    }

    @Test("a file is hashed block by block: a big one gets the digest of its whole contents, and its owner from its head")
    func bigFile() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeWeb01()
        // 64 KiB blocks: the file spans several, and its last one is short.
        let text = "#!ipxe\n# dploy: web-01 (94:18:82:00:00:01)\n" + String(repeating: "echo padding\n", count: 20_000)
        try write("http/ipxe/94-18-82-00-00-01.ipxe", text)
        let observed = try #require(try read(ObservationCache())["http/ipxe/94-18-82-00-00-01.ipxe"])
        #expect(observed.digest == ContentDigest(Array(text.utf8)))
        #expect(observed.owner == "web-01")
    }

    @Test("watched, it looks again only where inotify says, and agrees with a fresh read after every kind of change")
    func watched() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeWeb01()
        let cache = ObservationCache(trust: .watched)
        try #require(cache.trust == .watched, "\(cache.problem ?? "")")
        let first = try read(cache)
        let version = cache.version
        let walks = cache.fullWalks
        #expect(try read(cache, verify: false) == first)
        #expect(cache.version == version, "nothing changed, so the plan made from it still holds")

        // Edited in place, a folder with a file added, a folder removed, a file removed.
        let handle = try #require(FileHandle(forWritingAtPath: root + "/http/ipxe/94-18-82-00-00-01.ipxe"))
        handle.write(Data("#!ipxe\n# dploy: web-09".utf8))
        try handle.close()
        try write("http/installers/web-02/user-data", "#cloud-config\n")
        try FileManager.default.removeItem(atPath: root + "/http/installers/web-01")
        try FileManager.default.removeItem(atPath: root + "/tftp/pxelinux.cfg/01-94-18-82-00-00-01")
        let trusted = try read(cache, verify: false)
        #expect(cache.version != version)
        #expect(trusted == (try read(ObservationCache())), "the same as a fresh read")
        #expect(trusted["http/ipxe/94-18-82-00-00-01.ipxe"]?.owner == "web-09")
        #expect(trusted.keys.sorted() == ["dhcp/dploy.hosts", "http/installers/web-02/user-data", "http/ipxe/94-18-82-00-00-01.ipxe"])
        #expect(cache.fullWalks == walks, "every trusted read was a refresh, not a walk in disguise")
    }

    @Test("a managed folder replaced whole (its parent renamed, a fresh tree put back) is seen by the next trusted read",
          arguments: [ObservationCache.Trust.watched, .ownWrites])
    func replacedFolder(trust: ObservationCache.Trust) throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try observedWeb01(trust: trust)
        let walks = cache.fullWalks

        // No event reaches the watches on the old tree, which still exists under another name.
        #expect(rename(root + "/http", root + "/http-old") == 0)
        try write("http/ipxe/94-18-82-00-00-02.ipxe", "#!ipxe\n# dploy: web-02 (94:18:82:00:00:02)\nexit\n")
        let trusted = try read(cache, verify: false)
        #expect(cache.fullWalks == walks + 1, "a replaced folder costs a walk")
        #expect(trusted == (try read(ObservationCache())), "the same as a fresh read")
        #expect(trusted.keys.sorted() == ["dhcp/dploy.hosts", "http/ipxe/94-18-82-00-00-02.ipxe", "tftp/pxelinux.cfg/01-94-18-82-00-00-01"])

        // A symlink swapped over the output folder (ln -sfn): the same.
        try write("tftp-new/pxelinux.cfg/01-94-18-82-00-00-03", "# dploy: web-03 (94:18:82:00:00:03)\n")
        #expect(rename(root + "/tftp", root + "/tftp-old") == 0)
        #expect(symlink(root + "/tftp-new", root + "/tftp") == 0)
        #expect(try read(cache, verify: false)["tftp/pxelinux.cfg/01-94-18-82-00-00-03"] != nil)
        #expect(try read(cache, verify: false) == (try read(ObservationCache())))
    }

    @Test("trusting only its own writes, it sees what it is told it wrote, and an edit by others only when verifying")
    func ownWrites() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write("http/ipxe/94-18-82-00-00-01.ipxe", "#!ipxe\nexit\n")
        try write("http/installers/web-01/user-data", "#cloud-config\n")
        let cache = ObservationCache(trust: .ownWrites)
        _ = try read(cache)

        try write("http/installers/web-02/user-data", "#cloud-config\n")
        try write("http/ipxe/94-18-82-00-00-01.ipxe", "#!ipxe\nexit 1\n")
        cache.touched([OutputPath(.http, "installers/web-02/user-data")])
        let trusted = try read(cache, verify: false)
        #expect(trusted["http/installers/web-02/user-data"] != nil, "a new folder the apply made is walked")
        #expect(trusted["http/ipxe/94-18-82-00-00-01.ipxe"] == ObservedFile(contents: Array("#!ipxe\nexit\n".utf8)),
                "another's edit is not seen between verifications")
        #expect(try read(cache) == (try read(ObservationCache())))
    }

    @Test("sees every edit, even one that keeps the size and puts the old mtime back, and files added, replaced or removed")
    func seesEdits() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeWeb01()
        let cache = ObservationCache()
        let first = try read(cache)
        #expect(first.keys.sorted() == ["dhcp/dploy.hosts", "http/installers/web-01/preseed.cfg",
                                        "http/ipxe/94-18-82-00-00-01.ipxe", "tftp/pxelinux.cfg/01-94-18-82-00-00-01"])
        #expect(first["http/ipxe/94-18-82-00-00-01.ipxe"]?.owner == "web-01")
        #expect(try read(cache) == first, "nothing changed, nothing differs")

        // Same size, and the modification time put back as it was: only the change time moved.
        let preseed = root + "/http/installers/web-01/preseed.cfg"
        var before = stat()
        #expect(lstat(preseed, &before) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: preseed), "written in place: the same inode")
        handle.write(Data("d-i two\n".utf8))
        try handle.close()
        let times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, preseed, times, 0) == 0, "the old modification time, to the nanosecond")
        let edited = try read(cache)
        #expect(edited["http/installers/web-01/preseed.cfg"]?.digest == ObservedFile(contents: Array("d-i two\n".utf8)).digest)

        // Replaced by rename (a new inode), one added in a new folder, one removed.
        try write("http/ipxe/.staged", "#!ipxe\nexit 1\n")
        #expect(rename(root + "/http/ipxe/.staged", root + "/http/ipxe/94-18-82-00-00-01.ipxe") == 0)
        try FileManager.default.removeItem(atPath: root + "/tftp/pxelinux.cfg/01-94-18-82-00-00-01")
        try write("http/installers/web-02/preseed.cfg", "d-i web-02\n")
        let now = try read(cache)
        #expect(now.keys.sorted() == ["dhcp/dploy.hosts", "http/installers/web-01/preseed.cfg",
                                      "http/installers/web-02/preseed.cfg", "http/ipxe/94-18-82-00-00-01.ipxe"])
        #expect(now["http/ipxe/94-18-82-00-00-01.ipxe"] == ObservedFile(contents: Array("#!ipxe\nexit 1\n".utf8)))
        #expect(now == (try read(ObservationCache())), "the cache agrees with a fresh read")
    }

    @Test("a watched folder renamed within the tree stays watched; one moved out of it is no longer watched")
    func renamedFolders() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try observedWeb01(trust: .watched)
        let walks = cache.fullWalks
        let watchedBefore = cache.watchedFolders

        #expect(rename(root + "/http/installers/web-01", root + "/http/installers/web-03") == 0)
        #expect(try read(cache, verify: false)["http/installers/web-03/preseed.cfg"] != nil)
        // Edited in place: only the renamed folder's own watch can say so.
        let handle = try #require(FileHandle(forWritingAtPath: root + "/http/installers/web-03/preseed.cfg"))
        handle.write(Data("d-i six\n".utf8))
        try handle.close()
        let edited = try read(cache, verify: false)
        #expect(edited["http/installers/web-03/preseed.cfg"] == ObservedFile(contents: Array("d-i six\n".utf8)))
        #expect(edited == (try read(ObservationCache())))
        #expect(cache.watchedFolders == watchedBefore)

        // Moved out of the tree: its watch ends, and what happens to it there is not seen.
        #expect(rename(root + "/http/installers/web-03", root + "/elsewhere") == 0)
        let moved = try read(cache, verify: false)
        #expect(moved == (try read(ObservationCache())))
        #expect(cache.watchedFolders == watchedBefore - 1)
        #expect(cache.fullWalks == walks, "renames cost no walk")
    }

    @Test("a refused watch: a folder gone is skipped; the watch limit stops trusting, and the log says which sysctl and for how long")
    func refusedWatch() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try writeWeb01()
        let gone = ObservationCache(trust: .watched, refusingWatches: ENOENT)
        _ = try read(gone)
        #expect(gone.trust == .watched && gone.problem == nil, "a folder that went while walked is its parent's event")

        let full = ObservationCache(trust: .watched, refusingWatches: ENOSPC)
        _ = try read(full)
        #expect(full.trust == .nothing)
        let problem = try #require(full.problem)
        #expect(problem.contains("fs.inotify.max_user_watches is ") && problem.contains("until dploy restarts"), "\(problem)")
        let walks = full.fullWalks
        try write("http/ipxe/94-18-82-00-00-02.ipxe", "#!ipxe\nexit\n")
        #expect(try read(full, verify: false) == (try read(ObservationCache())), "not watched, so every file is looked at")
        #expect(full.fullWalks == walks + 1)
    }

    @Test("the kernel's queue overflowing, or a managed folder removed, costs a full walk that sees it")
    func lostTrack() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = try observedWeb01(trust: .watched)
        var walks = cache.fullWalks
        try FileManager.default.removeItem(atPath: root + "/tftp/pxelinux.cfg")
        #expect(try read(cache, verify: false)["tftp/pxelinux.cfg/01-94-18-82-00-00-01"] == nil)
        #expect(cache.fullWalks == walks + 1)

        // More events than /proc/sys/fs/inotify/max_queued_events (16384 by default) holds.
        walks = cache.fullWalks
        let limit = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
        try #require(limit <= 100_000, "a queue this long takes too many files to overflow in a test")
        let ipxe = root + "/http/ipxe/"
        for index in 0...(limit / 2 + 1) {
            let descriptor = open(ipxe + "f\(index)", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            close(descriptor)
            unlink(ipxe + "f\(index)")
        }
        try write("http/ipxe/94-18-82-00-00-02.ipxe", "#!ipxe\nexit\n")
        #expect(try read(cache, verify: false) == (try read(ObservationCache())))
        #expect(cache.fullWalks == walks + 1, "an overflowed queue says nothing of what changed")
    }
}
