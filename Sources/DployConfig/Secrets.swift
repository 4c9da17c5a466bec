import DploySpec
import Foundation
import Yams

/// A credential the controller reads from its secrets folder: `SECRETS/NAME.yaml` with
/// `username` and `password` (BMCs), or `privateKey` instead of the password (SSH tasks).
///
/// It lives next to `ControllerConfig`, which names the folder; the controller hands BMC
/// logins to DployBMC through `BMCCredentials` and SSH keys to DploySSH as values.
/// Its description never shows the values, so printing one by mistake leaks nothing.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let name: String
    public let username: String
    public let password: String?
    public let privateKey: String?

    public init(name: String, username: String, password: String? = nil, privateKey: String? = nil) {
        self.name = name
        self.username = username
        self.password = password
        self.privateKey = privateKey
    }

    /// Every value an error message or log line must never contain.
    public var sensitiveValues: [String] {
        [password, privateKey].compactMap { $0 }.filter { !$0.isEmpty }
    }

    public var description: String { "secret '\(name)' (values redacted)" }
    public var debugDescription: String { description }
    /// `dump()` and debuggers show this, without the values.
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "username": username], displayStyle: .struct) }
}

/// Why a secret could not be read. Names the file and the fix; never contains a value.
public struct SecretError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let problem: String

    public init(file: String, problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}

/// The secrets folder of the controller config (`secrets:` in dploy.yaml).
public struct SecretStore: Sendable {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    public func path(of name: String) -> String { folder + "/" + name + ".yaml" }

    /// Reads `NAME.yaml`. Refuses a file that anyone but its owner may read: a password that
    /// other local users can read is already leaked, and saying so early is the kind thing.
    public func read(_ name: String) throws(SecretError) -> Secret {
        let file = path(of: name)
        // The name comes from a spec in git: keep it to a DNS label, so it cannot climb out
        // of the folder (`../../etc/shadow`).
        guard case .success = Names.dnsLabel(name) else {
            throw SecretError(file: file, problem: "'\(name)' is not a valid secret name (a DNS label: a-z, 0-9, '-')")
        }
        let data = try PrivateFile.read(file, missing: "create it with 'username' and 'password', mode 0600")
        // Parse errors can quote the offending text, which may be the password: say only where.
        let node: Node?
        do {
            node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch let error as YamlError {
            throw SecretError(file: file, problem: "is not valid YAML (\(Self.location(of: error)))")
        } catch {
            throw SecretError(file: file, problem: "is not valid YAML")
        }
        guard let mapping = node?.mapping else {
            throw SecretError(file: file, problem: "must be a mapping with 'username' and 'password' (or 'privateKey')")
        }
        var fields: [String: String] = [:]
        for (key, value) in mapping {
            guard let key = key.string else { continue }
            guard ["username", "password", "privateKey"].contains(key) else {
                throw SecretError(file: file, problem: "unknown field '\(key)'; a secret holds 'username', 'password' and 'privateKey'")
            }
            guard let text = value.scalar?.string else {
                throw SecretError(file: file, problem: "'\(key)' must be a string")
            }
            fields[key] = text
        }
        guard let username = fields["username"], !username.isEmpty else {
            throw SecretError(file: file, problem: "'username' is missing")
        }
        guard fields["password"] != nil || fields["privateKey"] != nil else {
            throw SecretError(file: file, problem: "needs 'password' (or 'privateKey' for SSH)")
        }
        return Secret(name: name, username: username, password: fields["password"], privateKey: fields["privateKey"])
    }

    private static func location(of error: YamlError) -> String {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return "line \(mark.line), column \(mark.column)"
        default:
            return "cannot parse"
        }
    }
}
