import DployPlan
#if canImport(Glibc)
import Glibc
#endif

/// What an observation cache knows, written down for the next process: every folder's
/// listing and every file's digest and owner, each with the stat data it was seen under.
/// A one-shot `dploy apply` starts from it, so its observation stats every file (an edit by
/// anyone changes the stamp) but reads only those whose stamp moved.
extension ObservationCache {
    /// Writes the cache's folders and files to `writer`, leaving out (as never seen) every folder and
    /// file whose modification or change time is not before `racyFrom` (nanoseconds since
    /// 1970): a file changed in the same clock tick as it was read could be changed again
    /// within that tick with the same stamp. As git does with its index ("racy git"), such an
    /// entry is read again next time rather than trusted.
    public func persist(into writer: inout ByteWriter, racyFrom: Int64) {
        func trusted(_ stamp: Stamp) -> Bool { stamp.modified < racyFrom && stamp.changed < racyFrom }
        writer.write(UInt64(folders.count))
        for (path, folder) in folders.sorted(by: { $0.key < $1.key }) {
            writer.write(path)
            // An untrusted folder stamp is written as zeros, which no folder has: it is listed again.
            write(trusted(folder.stamp) ? folder.stamp : Stamp.never, to: &writer)
            writer.write(UInt64(folder.children.count))
            for child in folder.children {
                writer.write(child.name)
                writer.write(child.isFolder)
                let seen = child.seen.flatMap { trusted($0.stamp) ? $0 : nil }
                writer.write(seen != nil)
                if let seen { write(seen, to: &writer) }
            }
        }
        let kept = singles.filter { trusted($0.value.stamp) }
        writer.write(UInt64(kept.count))
        for (path, seen) in kept.sorted(by: { $0.key < $1.key }) {
            writer.write(path)
            write(seen, to: &writer)
        }
    }

    /// Looks again at what `persist` would leave out as racy once it is old enough to be
    /// trusted, and returns the time from which entries are still racy: `now` less a second.
    ///
    /// An entry whose stamp is at or after `racyFrom` (it changed in the second before the
    /// observation) but before that new time is read again now, more than a second after its
    /// stamp: a file whose stamp and digest are still those held is kept, a folder whose stamp
    /// and listing are; anything else is forgotten, to be read at the next observation. So the
    /// files an apply wrote just before the observation that read them need not be read a
    /// third time. `now`: nanoseconds since 1970, as file stamps count.
    public func settle(racyFrom: Int64, now: Int64) -> Int64 {
        let settled = now - 1_000_000_000
        guard settled > racyFrom else { return racyFrom }
        func racy(_ stamp: Stamp) -> Bool { max(stamp.modified, stamp.changed) >= racyFrom }
        func stillHeld(_ stamp: Stamp) -> Bool { max(stamp.modified, stamp.changed) < settled }
        for (path, folder) in folders {
            var entry = folder
            if racy(entry.stamp) {
                var status = stat()
                let unchanged = stillHeld(entry.stamp) && lstat(path, &status) == 0 && Stamp(status) == entry.stamp
                    && list(path).map(\.name).sorted() == entry.children.map(\.name).sorted()
                if !unchanged { entry.stamp = .never }
            }
            for index in entry.children.indices {
                guard let seen = entry.children[index].seen, racy(seen.stamp) else { continue }
                entry.children[index].seen = recheck(path + "/" + entry.children[index].name, seen, stillHeld)
            }
            folders[path] = entry
        }
        for (path, seen) in singles where racy(seen.stamp) {
            singles[path] = recheck(path, seen, stillHeld)
        }
        return settled
    }

    /// `seen`, when the file at `diskPath` still has its stamp and digest and the stamp is old
    /// enough; else nil.
    private func recheck(_ diskPath: String, _ seen: Seen, _ oldEnough: (Stamp) -> Bool) -> Seen? {
        guard oldEnough(seen.stamp), let (file, status) = try? Self.read(diskPath), Stamp(status) == seen.stamp,
              file == seen.file else { return nil }
        return seen
    }

    /// The bytes `persist` writes, on their own.
    func persisted(racyFrom: Int64) -> [UInt8] {
        var writer = ByteWriter()
        persist(into: &writer, racyFrom: racyFrom)
        return writer.bytes
    }

    /// A cache holding what `persist` wrote, read from `reader`. It trusts nothing between
    /// observations (`Trust.nothing`): every file is stat-ed, and read when its stamp differs.
    public convenience init(persisted reader: inout ByteReader) throws(PersistedBytesError) {
        self.init(trust: .nothing)
        let folderCount = try reader.readCount()
        folders.reserveCapacity(folderCount)
        for _ in 0..<folderCount {
            let path = try reader.readString()
            let stamp = try Self.readStamp(&reader)
            let childCount = try reader.readCount()
            var children: [Child] = []
            children.reserveCapacity(childCount)
            for _ in 0..<childCount {
                let name = try reader.readString()
                let isFolder = try reader.readBool()
                let seen = try reader.readBool() ? try Self.readSeen(&reader) : nil
                children.append(Child(name: name, isFolder: isFolder, seen: seen))
            }
            folders[path] = (stamp, children)
        }
        let singleCount = try reader.readCount()
        for _ in 0..<singleCount {
            let path = try reader.readString()
            singles[path] = try Self.readSeen(&reader)
        }
    }

    /// A cache holding exactly the bytes `persisted` returned.
    convenience init(persisted bytes: [UInt8]) throws(PersistedBytesError) {
        var reader = ByteReader(bytes[...])
        try self.init(persisted: &reader)
        guard reader.isAtEnd else { throw .malformed("bytes after the last entry") }
    }

    private func write(_ stamp: Stamp, to writer: inout ByteWriter) {
        writer.write(stamp.device)
        writer.write(stamp.inode)
        writer.write(stamp.size)
        writer.write(stamp.modified)
        writer.write(stamp.changed)
    }

    private func write(_ seen: Seen, to writer: inout ByteWriter) {
        write(seen.stamp, to: &writer)
        writer.write(bytes: seen.file.digest.bytes)
        writer.write(seen.file.owner ?? "")
    }

    private static func readStamp(_ reader: inout ByteReader) throws(PersistedBytesError) -> Stamp {
        Stamp(device: try reader.readUInt64(), inode: try reader.readUInt64(), size: try reader.readInt64(),
              modified: try reader.readInt64(), changed: try reader.readInt64())
    }

    private static func readSeen(_ reader: inout ByteReader) throws(PersistedBytesError) -> Seen {
        let stamp = try readStamp(&reader)
        guard let digest = ContentDigest(rawBytes: try reader.readBytes()) else { throw .malformed("a digest that is not 32 bytes") }
        let owner = try reader.readString()
        return Seen(stamp: stamp, file: ObservedFile(digest: digest, owner: owner.isEmpty ? nil : owner))
    }
}
