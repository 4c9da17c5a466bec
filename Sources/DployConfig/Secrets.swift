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
    /// Where its password may be sent (`allowedAddresses`): BMC addresses and SSH hosts. A
    /// git author chooses `bmc.address` and `spec.ip`; the operator who holds the secret
    /// chooses where it goes. Empty: the password goes nowhere.
    public let allowedAddresses: [AddressPattern]
    /// `allowInsecureTLS: true`: the password may go to a BMC whose spec says `insecure: true`
    /// (no certificate check). Off by default: only the secret's holder may turn checks off.
    public let allowInsecureTLS: Bool

    public init(name: String, username: String, password: String? = nil, privateKey: String? = nil,
                allowedAddresses: [AddressPattern] = [], allowInsecureTLS: Bool = false) {
        self.name = name
        self.username = username
        self.password = password
        self.privateKey = privateKey
        self.allowedAddresses = allowedAddresses
        self.allowInsecureTLS = allowInsecureTLS
    }

    /// Whether its password may go to the BMC at the URL `address`.
    public func permits(url address: String) -> Bool {
        allowedAddresses.contains { $0.matches(url: address) }
    }

    /// Whether its password may go to `host` on `port` over `scheme` (`ssh`).
    public func permits(scheme: String, host: String, port: Int) -> Bool {
        allowedAddresses.contains { $0.matches(scheme: scheme, host: host, port: port) }
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
        var allowed: [AddressPattern] = []
        for (key, value) in mapping {
            guard let key = key.string else { continue }
            if key == "allowedAddresses" {
                guard let items = value.sequence else {
                    throw SecretError(file: file, problem: "'allowedAddresses' must be a list such as [\"https://198.18.0.1*\", \"ssh://198.18.0.*\"]")
                }
                for item in items {
                    guard let text = item.scalar?.string, let pattern = AddressPattern(text) else {
                        throw SecretError(file: file, problem: "'allowedAddresses': '\(item.scalar?.string ?? "?")' is not https://HOST[:PORT] "
                                          + "or ssh://HOST[:PORT] ('*' in HOST matches within one label, ':*' any port)")
                    }
                    allowed.append(pattern)
                }
                continue
            }
            guard ["username", "password", "privateKey", "allowInsecureTLS"].contains(key) else {
                throw SecretError(file: file, problem: "unknown field '\(key)'; a secret holds 'username', 'password', 'privateKey', "
                                  + "'allowedAddresses' and 'allowInsecureTLS'")
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
        let insecure = fields["allowInsecureTLS"]
        guard insecure == nil || insecure == "true" || insecure == "false" else {
            throw SecretError(file: file, problem: "'allowInsecureTLS' must be true or false")
        }
        return Secret(name: name, username: username, password: fields["password"], privateKey: fields["privateKey"],
                      allowedAddresses: allowed, allowInsecureTLS: insecure == "true")
    }

    /// Why `secret`'s password may not be sent to the BMC at `address` (`insecure`: the spec
    /// turns the certificate check off), or nil when it may. Names the file to change.
    public func bmcRefusal(_ secret: Secret, address: String, insecure: Bool) -> String? {
        let scheme = URLComponents(string: address)?.scheme?.lowercased()
        if scheme != "https" {
            return "BMC credentials go only over https:// with a checked certificate or a pin; '\(address)' would send "
                + "the password of secret '\(secret.name)' in clear text"
        }
        if secret.allowedAddresses.isEmpty {
            return "secret '\(secret.name)' lists no 'allowedAddresses', so its password is sent nowhere: add the BMC "
                + "addresses it is for to \(path(of: secret.name)) (for example allowedAddresses: [\"https://198.18.0.1*\"])"
        }
        if !secret.permits(url: address) {
            return "'\(address)' is not among the allowedAddresses of secret '\(secret.name)' (\(path(of: secret.name))): "
                + "its password is not sent there"
        }
        if insecure && !secret.allowInsecureTLS {
            return "'bmc.insecure: true' would send the password of secret '\(secret.name)' without checking the BMC's "
                + "certificate; give 'caFile', 'pinnedKey' or 'fingerprint' instead, or let \(path(of: secret.name)) say 'allowInsecureTLS: true'"
        }
        return nil
    }

    /// Why `secret`'s password may not be used to log in to `host` over SSH, or nil when it
    /// may: the host must be among its allowedAddresses (`ssh://…`), and its key already
    /// known (`hostKey: accept-new` would hand the password to whoever answers first).
    public func sshPasswordRefusal(_ secret: Secret, host: String, port: Int, acceptsNewHostKey: Bool) -> String? {
        let shown = port == 22 ? "ssh://\(host)" : "ssh://\(host):\(port)"
        if !secret.permits(scheme: "ssh", host: host, port: port) {
            return "\(shown) is not among the allowedAddresses of secret '\(secret.name)' (\(path(of: secret.name))): "
                + "its password is not sent there"
        }
        if acceptsNewHostKey {
            return "'hostKey: accept-new' with the password of secret '\(secret.name)': a password goes only to a host whose "
                + "key is already in known_hosts (add it, or log in with a privateKey)"
        }
        return nil
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
