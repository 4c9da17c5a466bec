import Crypto
import DploySpec

extension ObservedState {
    /// A SHA-256 of everything observed that a plan reads, the same in every process for the
    /// same state (entries sorted, each field tagged): what a one-shot apply compares to tell
    /// whether the last plan that changed nothing still holds. Nil when BMC readings are part
    /// of it (power, firmware, BIOS): their values hold sets and nested tables this digest
    /// does not spell out, so such a plan is never reused.
    public var planInputDigest: ContentDigest? {
        guard power.isEmpty, firmware.isEmpty, bios.isEmpty, biosUnread.isEmpty else { return nil }
        var hasher = ContentHasher()
        func add(_ tag: String, _ lines: [String]) {
            // A line holds no newline of its own: paths, MACs, names and numbers.
            hasher.update(ArraySlice("\(tag) \(lines.count)\n".utf8))
            for line in lines.sorted() { hasher.update(ArraySlice((line + "\n").utf8)) }
        }
        add("files", files.map { path, file in "\(path.description) \(file.digest.hex) \(file.owner ?? "-")" })
        add("installed", installedGenerations.map { "\($0.key) \($0.value)" })
        add("installing", installing.map { "\($0.key) \($0.value)" })
        add("failed", failedInstalls.map { "\($0.key) \($0.value)" })
        add("discovered", discovered.map { "\($0.key) \($0.value.debugDescription)" })
        add("imaging", imaging.map { "\($0.key) \($0.value.debugDescription)" })
        add("tasks", taskRuns.map { "\($0.key.task.debugDescription) \($0.key.revision) \($0.key.machine.debugDescription) \($0.value.rawValue)" })
        add("reload", [dhcpReloadPending ? "pending" : "done"])
        return hasher.finalize()
    }
}

extension ContentDigest {
    /// Lowercase hex, 64 digits.
    public var hex: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }
}
