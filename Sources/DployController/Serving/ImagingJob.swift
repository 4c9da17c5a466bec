import DployInventory
import DployPlan
import DploySpec

/// What an imaging run asks of the imaging environment, as `GET /v1/imaging/{mac}` answers
/// it: `key=value` lines (`task`, `direction`, `url`, `disk`, `sha256`), so a shell script
/// reads it with sed and never evaluates it.
public struct ImagingJob: Hashable, Sendable {
    public enum Direction: String, Sendable { case capture, restore }

    public var task: String
    public var direction: Direction
    public var url: String
    public var disk: String
    /// The image's expected SHA-256 (restore only, when the task gives one).
    public var sha256: String?

    /// What an imaging run's token signs: the task, its revision and the machine.
    static func runName(_ key: TaskRunKey) -> String { "\(key.task)|\(key.revision)|\(key.machine)" }

    /// The job of `run`, from its task in git at the run's revision; nil when the task was
    /// edited or removed since the run started.
    init?(_ run: TaskRun, fleet: Fleet) {
        guard let task = fleet.tasks.first(where: { $0.name == run.key.task }), TaskRevision.of(task) == run.key.revision
        else { return nil }
        switch task.action {
        case .imageCapture(let url, let disk): self.init(task: task.name, direction: .capture, url: url, disk: disk)
        case .imageRestore(let url, let disk, let sha256):
            self.init(task: task.name, direction: .restore, url: url, disk: disk, sha256: sha256)
        default: return nil
        }
    }

    init(task: String, direction: Direction, url: String, disk: String, sha256: String? = nil) {
        self.task = task
        self.direction = direction
        self.url = url
        self.disk = disk
        self.sha256 = sha256
    }

    /// The job as the imaging script reads it. Values are single lines: URLs, device
    /// paths and hex, as the spec's validation guarantees; anything after a line break
    /// would be cut.
    public var text: String {
        let lines = [("task", task), ("direction", direction.rawValue), ("url", url), ("disk", disk), ("sha256", sha256 ?? "")]
        return lines.map { "\($0.0)=\($0.1.split(whereSeparator: \.isNewline).first.map(String.init) ?? "")\n" }.joined()
    }

    /// The environment's result (`sha256=HEX` and `bytes=N` lines), checked against the job:
    /// the run's outcome.
    func outcome(reported body: String) -> TaskRunOutcome {
        var fields: [String: String] = [:]
        for line in body.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0]).trimmed] = String(parts[1]).trimmed }
        }
        guard let digest = fields["sha256"]?.lowercased(), digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
            return .failed("the imaging environment reported no sha256 of the image")
        }
        // An empty stream hashes fine too: a restore of nothing or a capture of nothing is
        // a failure, whatever its digest.
        guard let bytes = fields["bytes"].flatMap(Int64.init), bytes > 0 else {
            return .failed("the imaging environment reported no bytes \(direction == .restore ? "written" : "read") (bytes=\(fields["bytes"] ?? ""))")
        }
        let size = "\(bytes) bytes"
        if direction == .restore, let expected = sha256?.lowercased(), expected != digest {
            return .failed("the restored image's sha256 is \(digest), the task expects \(expected)",
                           output: "restored \(size) from \(url) to \(disk)")
        }
        let verb = direction == .restore ? "restored \(size) from \(url) to \(disk)" : "captured \(size) of \(disk) to \(url)"
        return TaskRunOutcome(state: .succeeded, output: "\(verb), sha256 \(digest)")
    }
}

extension String {
    fileprivate var trimmed: String { String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
}
