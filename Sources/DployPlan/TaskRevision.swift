import Crypto
import DploySpec
import Foundation

/// A task's content hash: the identity of "this task as written". A task runs once per name
/// and revision, so any edit to its spec runs it again, and moving it to another file or
/// reordering its fields does not.
public enum TaskRevision {
    /// 16 hex digits of the SHA-256 of the task's spec in a canonical form.
    public static func of(_ task: TaskDefinition) -> String {
        let canonical = Canonical(task)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding a value of strings, numbers and booleans cannot fail.
        let bytes = (try? encoder.encode(canonical)) ?? Data()
        return Hex.encode(Array(SHA256.hash(data: bytes).prefix(8)))
    }

    /// The spec without source locations: what the operator wrote, nothing about where.
    private struct Canonical: Encodable {
        var machines: [String]
        var groups: [String]
        var selector: [String: String]?
        var action: [String: String]
        var concurrency: Int
        var timeoutSeconds: Int64
        var stopOnFailure: Bool

        init(_ task: TaskDefinition) {
            machines = task.targets.machines.map(\.value)
            groups = task.targets.groups.map(\.value)
            selector = task.targets.selector
            action = TaskRevision.fields(of: task.action)
            concurrency = task.concurrency
            timeoutSeconds = task.timeout.components.seconds
            stopOnFailure = task.stopOnFailure
        }
    }

    static func fields(of action: TaskAction) -> [String: String] {
        var fields = ["kind": action.kind.rawValue]
        switch action {
        case .ssh(let command, let user, let credentials, let hostKey, let port):
            fields.merge(["command": command, "user": user, "credentials": credentials, "hostKey": hostKey.rawValue,
                          "port": String(port)]) { $1 }
        case .imageCapture(let url, let disk): fields.merge(["url": url, "disk": disk]) { $1 }
        case .imageRestore(let url, let disk, let sha256): fields.merge(["url": url, "disk": disk, "sha256": sha256 ?? ""]) { $1 }
        case .rediscover: break
        case .power(let power): fields["power"] = power.rawValue
        }
        return fields
    }
}
