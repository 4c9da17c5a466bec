import DploySpec

extension ObservedState {
    /// A SHA-256 of everything observed that a plan reads but the files (`filesDigest`), the
    /// same in every process for the same state (entries sorted, each table tagged): what a
    /// one-shot apply compares to tell whether its last plan that changed nothing still holds.
    /// Nil when BMC readings, BMC jobs, rollout resumes or the time of day are part of it:
    /// they change without any file changing (a job finishing on another controller, a
    /// window opening), and this digest does not spell them out, so such a plan is never reused.
    public var planInputDigest: ContentDigest? {
        guard power.isEmpty, firmware.isEmpty, bios.isEmpty, biosUnread.isEmpty, storage.isEmpty, storageUnread.isEmpty, bmcJobs.isEmpty, rolloutResumes.isEmpty,
              now == nil else { return nil }
        var hasher = ContentHasher()
        func add(_ tag: String, _ lines: [String]) {
            // A line holds no newline of its own: MACs, numbers, and names written with Swift's escapes.
            hasher.update(ArraySlice("\(tag) \(lines.count)\n".utf8))
            for line in lines.sorted() { hasher.update(ArraySlice((line + "\n").utf8)) }
        }
        add("installed", installedGenerations.map { "\($0.key) \($0.value)" })
        add("installing", installing.map { "\($0.key) \($0.value)" })
        add("failed", failedInstalls.map { "\($0.key) \($0.value)" })
        add("discovered", discovered.map { "\($0.key) \($0.value.debugDescription)" })
        add("imaging", imaging.map { "\($0.key) \($0.value.debugDescription)" })
        add("tasks", taskRuns.map { "\($0.key.task.debugDescription) \($0.key.revision) \($0.key.machine.debugDescription) \($0.value.rawValue)" })
        add("reload", [dhcpReloadPending ? "pending" : "done"])
        return hasher.finalize()
    }

    /// A SHA-256 of the observed files: each path (sorted), its digest and its owner.
    public var filesDigest: ContentDigest {
        var hasher = ContentHasher()
        var buffer: [UInt8] = []
        for (path, file) in files.sorted(by: { $0.key < $1.key }) {
            buffer.removeAll(keepingCapacity: true)
            // Length-prefixed text, so no two entries run into each other.
            for text in [path.root.rawValue, path.path, file.owner ?? ""] {
                let count = text.utf8.count
                buffer += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: count >> $0) }
                buffer += text.utf8
            }
            buffer.append(file.owner == nil ? 0 : 1)
            buffer += file.digest.bytes
            hasher.update(buffer[...])
        }
        return hasher.finalize()
    }
}
