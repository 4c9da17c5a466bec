import DployApply
import DployPlan
import DployRender
import Foundation

/// What a one-shot `dploy apply` keeps between runs, in `STATE/apply-cache`: what the daemon
/// keeps in memory for its life, so that an apply after another apply (or after a daemon
/// stopped) does only the work the change asks for.
///
/// - The output files as last observed (`ObservationCache+Persisted`): the next apply stats
///   every file, as before, but reads and hashes only those whose stamp moved.
/// - Each machine's rendered files' digests (`RenderCache.persisted`, keyed by `RenderKeys`):
///   only the machines whose spec file, or whatever every render reads, changed are rendered.
/// - The last plan that changed nothing, with a digest of everything it was made from
///   (`QuietKey`): while the spec files, templates, config, callback key, secrets and
///   everything observed hash the same, the planner, a pure function of them, would make the
///   same plan, so it is reused without parsing or rendering the fleet.
///
/// A file of its own, not rows in the store: the stamps name devices and inodes of this
/// host's output folders, which mean nothing to another host sharing a PostgreSQL store,
/// and the store's schema need not change for what is only ever a shortcut. The file is
/// checked whole (a magic line, a format version and a SHA-256 of the rest): one that does
/// not check, or that an older or newer dploy wrote, is ignored and said so (`problem`),
/// never trusted, and the apply does the full work.
public final class ApplyCache: @unchecked Sendable {
    /// The format this dploy reads and writes; any change to the layout bumps it.
    static let formatVersion: UInt64 = 1
    static let magic = Array("dploy apply cache\n".utf8)

    public let path: String
    /// The output files as last observed; what `Reconciler(config:configPath:observationCache:)` takes.
    public let observation: ObservationCache
    /// Renders' digests by machine (`RenderCache.persisted`), read from the file only when a
    /// plan needs them: a reused quiet plan does not.
    public let renders = RenderCache()
    /// The renders' section of the file, not decoded yet.
    private var renderBytes: ArraySlice<UInt8>?
    /// The last plan that changed nothing, and what it was made from.
    var quiet: QuietMemo?
    /// The size of the file read, which the next is likely to have.
    private var sizeRead = 0
    /// Why the file on disk was not used, for the caller to log; nil when it was read or absent.
    public let problem: String?

    struct QuietMemo {
        /// Everything the plan was made from but the output files (`QuietKey`).
        var key: ContentDigest
        /// The output files it was made against (`ObservedState.filesDigest`).
        var files: ContentDigest
        /// The templates the plan read (profiles name them), read again to check the key.
        var templatePaths: [String]
        var plan: Plan
    }

    /// Reads the cache at `path`: empty when there is none, or when it cannot be trusted
    /// (`problem` says why).
    public init(path: String) {
        self.path = path
        guard let data = Self.contents(of: path) else {
            (observation, quiet, problem) = (ObservationCache(), nil, nil)
            return
        }
        sizeRead = data.count
        do {
            (observation, renderBytes, quiet) = try Self.decode(data)
            problem = nil
        } catch {
            (observation, quiet) = (ObservationCache(), nil)
            problem = "ignoring the apply cache \(path): \(error); this apply reads every output file and plans the whole fleet"
        }
    }

    /// The file's bytes, read straight into one array (through `Data` they would be held
    /// twice for a moment: ten megabytes more at a 10,000-machine fleet's peak); nil when
    /// there is no file or it cannot be read.
    private static func contents(of path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            done += count
        }
        bytes.removeLast(bytes.count - done)
        return bytes
    }

    /// The layout: the magic line, the format version (8 bytes), the body, and the body's
    /// SHA-256 (32 bytes).
    private static func decode(_ bytes: [UInt8]) throws -> (ObservationCache, ArraySlice<UInt8>, QuietMemo?) {
        guard bytes.starts(with: magic) else { throw ApplyCacheError("it is not an apply cache") }
        var header = ByteReader(bytes[magic.count...])
        let version = try header.readUInt64()
        guard version == formatVersion else {
            throw ApplyCacheError("it is format \(version), this dploy reads format \(formatVersion)")
        }
        let bodyStart = magic.count + 8
        guard bytes.count >= bodyStart + 32 else { throw PersistedBytesError.truncated }
        let body = bytes[bodyStart..<bytes.count - 32]
        var hasher = ContentHasher()
        hasher.update(body)
        guard ContentDigest(rawBytes: bytes.suffix(32)) == hasher.finalize() else {
            throw ApplyCacheError("its checksum does not match: it was cut short or changed")
        }
        var reader = ByteReader(body)
        let observation = try ObservationCache(persisted: &reader)
        let renders = try reader.readBytes()
        var quiet: QuietMemo?
        if try reader.readBool() {
            guard let key = ContentDigest(rawBytes: try reader.readBytes()),
                  let files = ContentDigest(rawBytes: try reader.readBytes()) else { throw ApplyCacheError("a digest that is not 32 bytes") }
            let templates = try (0..<reader.readCount()).map { _ in try reader.readString() }
            let plan = try JSONDecoder().decode(Plan.self, from: Data(try reader.readBytes()))
            quiet = QuietMemo(key: key, files: files, templatePaths: templates, plan: plan)
        }
        guard reader.isAtEnd else { throw ApplyCacheError("bytes after the last entry") }
        return (observation, renders, quiet)
    }

    /// Reads the renders' section into `renders.persisted`, once. A section that does not
    /// read (the checksum matched, so only a bug could make one) leaves no renders.
    func loadRenders() {
        guard let bytes = renderBytes else { return }
        renderBytes = nil
        var reader = ByteReader(bytes)
        var table: [String: RenderCache.PersistedRender] = [:]
        do {
            let count = try reader.readCount()
            table.reserveCapacity(count)
            for _ in 0..<count {
                let name = try reader.readString()
                guard let key = ContentDigest(rawBytes: try reader.readBytes()) else { return }
                let installed = try reader.readBool() ? Int(try reader.readInt64()) : nil
                let failed = try reader.readBool() ? Int(try reader.readInt64()) : nil
                var digests: [OutputPath: ContentDigest] = [:]
                for _ in 0..<(try reader.readCount()) {
                    guard let root = OutputPath.Root(rawValue: try reader.readString()) else { return }
                    let path = OutputPath(root, try reader.readString())
                    guard let digest = ContentDigest(rawBytes: try reader.readBytes()) else { return }
                    digests[path] = digest
                }
                table[name] = RenderCache.PersistedRender(key: key, installed: installed, failed: failed, digests: digests)
            }
        } catch {
            return
        }
        renders.persisted = table
    }

    /// The renders of the machines the last plan had keys for (all, when it had none).
    private static func write(_ renders: RenderCache, to writer: inout ByteWriter) {
        let kept = renders.inputKeys.isEmpty ? renders.persisted : renders.persisted.filter { renders.inputKeys[$0.key] != nil }
        writer.write(UInt64(kept.count))
        for (name, render) in kept {
            writer.write(name)
            writer.write(bytes: render.key.bytes)
            for generation in [render.installed, render.failed] {
                writer.write(generation != nil)
                if let generation { writer.write(Int64(generation)) }
            }
            writer.write(UInt64(render.digests.count))
            for (path, digest) in render.digests {
                writer.write(path.root.rawValue)
                writer.write(path.path)
                writer.write(bytes: digest.bytes)
            }
        }
    }

    /// Set when a run found everything as read from the file and reused its quiet plan:
    /// saving would write the same, so `save` does not.
    var matchesFile = false

    /// Entries changed at or after this time (nanoseconds since 1970) are not saved as seen:
    /// a second before the last observation began (`Reconciler.planOnce` sets it).
    var racyFrom = ApplyCache.racyFrom()

    /// Writes the cache: the observation (entries changed at or after `racyFrom` left out,
    /// see `ObservationCache.persisted`) and the quiet plan, if any. Atomic (a temporary file
    /// renamed), without fsync: a cache lost to a crash is an empty or torn file, which the
    /// checksum refuses, costing one full apply.
    public func save() throws {
        if matchesFile { return }
        // One buffer, sized from the last file, so ten megabytes are neither copied nor regrown.
        var file = ByteWriter(prefix: Self.magic, capacity: sizeRead + sizeRead / 8)
        file.write(Self.formatVersion)
        // What changed just before the observation is read again now, when it can be trusted.
        racyFrom = observation.settle(racyFrom: racyFrom, now: Self.now())
        observation.persist(into: &file, racyFrom: racyFrom)
        if let renderBytes {
            file.write(bytes: renderBytes)
        } else {
            var section = ByteWriter()
            Self.write(renders, to: &section)
            file.write(bytes: section.bytes)
        }
        file.write(quiet != nil)
        if let quiet {
            file.write(bytes: quiet.key.bytes)
            file.write(bytes: quiet.files.bytes)
            file.write(UInt64(quiet.templatePaths.count))
            quiet.templatePaths.forEach { file.write($0) }
            file.write(bytes: Array(try JSONEncoder().encode(quiet.plan)))
        }
        var hasher = ContentHasher()
        hasher.update(file.bytes[(Self.magic.count + 8)...])
        file.append(raw: hasher.finalize().bytes)
        let temporary = try AtomicFile.stage(file.bytes, for: path, sync: false, mode: 0o600)
        try AtomicFile.commit(temporary, to: path, syncFolder: false)
    }

    /// The time now as file stamps count it (nanoseconds since 1970), less a second: an entry
    /// changed after this is "racy" and not kept as seen (the clock that stamps files moves in
    /// ticks, and a second covers any tick).
    static func racyFrom() -> Int64 { now() - 1_000_000_000 }

    /// The time now, in nanoseconds since 1970 as file stamps count it.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}

struct ApplyCacheError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
