import Foundation
import DployTestSupport
import Testing

/// Issue 19, finding 1: a git author chooses `bmc.address`, `spec.ip` and which secret a
/// machine or task uses; the operator who holds the secret chooses where its password may go
/// (`allowedAddresses`), and it goes only over checked TLS, or by SSH to a known host. Each
/// case points a spec at a listener this test holds on 127.0.0.1 and checks that dploy refuses
/// at the spec's line, exits 1 and never connects.
@Suite(.ownThread)
struct CredentialBindingTests {
    let cli = CommandLineTests()

    /// A TCP listener on 127.0.0.1 that accepts, counts and closes every connection.
    final class RecordingListener: @unchecked Sendable {
        private let held: HeldPort
        private let lock = NSLock()
        private var count = 0

        var port: Int { held.port }

        init() throws {
            held = try HeldPort(listen: true, backlog: 16)
            let fd = held.descriptor
            Thread.detachNewThread { [self] in
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 { return }
                    lock.withLock { count += 1 }
                    close(client)
                }
            }
        }

        var connections: Int { lock.withLock { count } }

        // Wakes the accepting thread; HeldPort closes the socket.
        deinit { shutdown(held.descriptor, Int32(SHUT_RDWR)) }
    }

    func site(secret: String, specs: String) throws -> URL {
        let folder = try cli.makeFolder([
            "dploy.yaml": """
                source: {path: specs}
                store: {sqlite: state/dploy.db}
                secrets: secrets
                output: {http: out/http, tftp: out/tftp}
                server: {url: "http://127.0.0.1:8080"}
                ssh: {knownHosts: state/known_hosts, connectTimeout: 5s}

                """,
            "secrets/lab.yaml": secret,
            "specs/fleet.yaml": specs,
        ])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: folder.appendingPathComponent("secrets/lab.yaml").path)
        return folder
    }

    static let password = "pw-\(UUID().uuidString)"

    static func machine(bmc: String) -> String {
        """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: node-0}
        spec:
          mac: "52:54:00:00:00:10"
          bmc: {\(bmc)}

        """
    }

    @Test("a BMC password goes only over checked https:// to an address its secret allows: refused at the spec's line, nothing connects",
          arguments: [
            // A secret as written before allowedAddresses existed: what an attacker met.
            ("plain http", "address: \"http://127.0.0.1:PORT\", credentials: lab", nil,
             "spec.bmc.address 'http://127.0.0.1:PORT' is not https://: BMC credentials go only over https://"),
            ("plain http to an allowed host", "address: \"http://127.0.0.1:PORT\", credentials: lab", "[\"https://127.0.0.1:*\"]",
             "spec.bmc.address 'http://127.0.0.1:PORT' is not https://: BMC credentials go only over https://"),
            ("an address the secret does not allow", "address: \"https://127.0.0.1:PORT\", credentials: lab", "[\"https://198.18.0.1*\"]",
             "spec.bmc.address: 'https://127.0.0.1:PORT' is not among the allowedAddresses of secret 'lab'"),
            ("a secret that allows no address", "address: \"https://127.0.0.1:PORT\", credentials: lab", nil,
             "spec.bmc.address: secret 'lab' lists no 'allowedAddresses', so its password is sent nowhere"),
            ("insecure: true without the secret's consent", "address: \"https://127.0.0.1:PORT\", credentials: lab, insecure: true",
             "[\"https://127.0.0.1:*\"]",
             "spec.bmc.insecure: 'bmc.insecure: true' would send the password of secret 'lab' without checking the BMC's certificate"),
          ])
    func bmcPasswordBound(_ name: String, bmc: String, allowed: String?, message: String) throws {
        let listener = try RecordingListener()
        let port = String(listener.port)
        let secret = "username: admin\npassword: '\(Self.password)'\n" + (allowed.map { "allowedAddresses: \($0)\n" } ?? "")
        let folder = try site(secret: secret, specs: Self.machine(bmc: bmc.replacingOccurrences(of: "PORT", with: port)))
        defer { try? FileManager.default.removeItem(at: folder) }
        let expected = message.replacingOccurrences(of: "PORT", with: port)
        for command in [["bmc", "status"], ["bmc", "power", "on", "node-0"], ["plan"]] {
            let run = try cli.dploy(arguments: command + ["--config", "dploy.yaml"], in: folder)
            #expect(run.status == 1, "\(name), dploy \(command): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.contains("specs/fleet.yaml:6:"), "\(name), dploy \(command): \(run.stderr)")
            #expect(run.stderr.contains("error: machine 'node-0': \(expected)"), "\(name), dploy \(command): \(run.stderr)")
            #expect(!run.stdout.contains(Self.password) && !run.stderr.contains(Self.password))
        }
        #expect(listener.connections == 0, "\(name): dploy connected to the spec's address")
    }

    @Test("an SSH password goes only to a host its secret allows, whose key is already known: refused at the spec's line, nothing connects",
          arguments: [
            // A secret as written before allowedAddresses existed: what an attacker met.
            ("a secret that allows no host", nil, "",
             "specs/fleet.yaml:4:38: error: task 'uptime' on machine 'node-0': spec.ip: ssh://127.0.0.1:PORT is not among the allowedAddresses of secret 'lab'"),
            ("a secret that allows no host, hostKey: accept-new", nil, ", hostKey: accept-new",
             "specs/fleet.yaml:4:38: error: task 'uptime' on machine 'node-0': spec.ip: ssh://127.0.0.1:PORT is not among the allowedAddresses of secret 'lab'"),
            ("a host the secret does not allow", "[\"ssh://198.18.0.*\"]", "",
             "specs/fleet.yaml:4:38: error: task 'uptime' on machine 'node-0': spec.ip: ssh://127.0.0.1:PORT is not among the allowedAddresses of secret 'lab'"),
            ("hostKey: accept-new", "[\"ssh://127.0.0.1:*\"]", ", hostKey: accept-new",
             "error: task 'uptime' on machine 'node-0': spec.ssh.hostKey: 'hostKey: accept-new' with the password of secret 'lab'"),
          ])
    func sshPasswordBound(_ name: String, allowed: String?, hostKey: String, message: String) throws {
        let listener = try RecordingListener()
        let port = String(listener.port)
        let specs = """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: node-0}
            spec: {mac: "52:54:00:00:00:10", ip: 127.0.0.1}
            ---
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: uptime}
            spec:
              targets: {machines: [node-0]}
              ssh: {command: uptime, user: root, credentials: lab, port: \(port)\(hostKey)}

            """
        let secret = "username: root\npassword: '\(Self.password)'\n" + (allowed.map { "allowedAddresses: \($0)\n" } ?? "")
        let folder = try site(secret: secret, specs: specs)
        defer { try? FileManager.default.removeItem(at: folder) }
        let expected = message.replacingOccurrences(of: "PORT", with: port)
        for command in [["plan"], ["apply", "--auto-approve"]] {
            let run = try cli.dploy(arguments: command + ["--config", "dploy.yaml"], in: folder)
            #expect(run.status == 1, "\(name), dploy \(command): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.contains(expected), "\(name), dploy \(command): \(run.stderr)")
            #expect(!run.stdout.contains(Self.password) && !run.stderr.contains(Self.password))
        }
        #expect(listener.connections == 0, "\(name): dploy connected to the spec's host")
    }
}
