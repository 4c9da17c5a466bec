import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// SSH tasks run by the controller (plan, then the task runner) against a real sshd on
/// 127.0.0.1: once per revision, output kept, host keys checked, hung commands cut.
@Suite(.ownThread, .requires(.sshd, .sshKeygen))
struct TaskSSHTests {
    /// A spec folder with one machine at 127.0.0.1, the server's user key as a secret, and a
    /// controller config whose known_hosts file is the server's.
    final class Site: @unchecked Sendable {
        let server: SSHServer
        let root: URL

        init(server: SSHServer, secret: String? = nil) throws {
            self.server = server
            root = server.folder.appendingPathComponent("site")
            try FileManager.default.createDirectory(at: root.appendingPathComponent("specs"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: root.appendingPathComponent("secrets"), withIntermediateDirectories: true)
            let key = server.userKey.privateKey.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            try write("secrets/node-ssh.yaml", secret ?? "username: \(server.user)\nprivateKey: |\n\(key)\n", mode: 0o600)
            try write("specs/node.yaml", """
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: node-0}
                spec: {mac: "52:54:00:00:00:10", ip: 127.0.0.1}

                """)
            try write("dploy.yaml", """
                source: {path: specs}
                store: {sqlite: state/dploy.db}
                secrets: secrets
                output: {http: out/http, tftp: out/tftp}
                server: {url: "http://127.0.0.1:8080"}
                ssh: {knownHosts: \(server.path("known_hosts")), connectTimeout: 10s}

                """)
        }

        func write(_ path: String, _ text: String, mode: Int = 0o644) throws {
            let url = root.appendingPathComponent(path)
            try Data(text.utf8).write(to: url)
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
        }

        /// A task named `name` running `command` on node-0 as `user` (the server's by default).
        func task(_ name: String, _ command: String, user: String? = nil, timeout: String = "20s") throws {
            try write("specs/\(name).yaml", """
                apiVersion: dploy.org/v1
                kind: Task
                metadata: {name: \(name)}
                spec:
                  targets: {machines: [node-0]}
                  ssh: {command: '\(command.replacingOccurrences(of: "'", with: "''"))', user: \(user ?? server.user), credentials: node-ssh, port: \(server.port)}
                  timeout: \(timeout)

                """)
        }

        var reconciler: Reconciler {
            get throws {
                let path = root.appendingPathComponent("dploy.yaml").path
                return Reconciler(config: try ControllerConfig.load(path: path).get(), configPath: path)
            }
        }

        /// Plans and runs what is pending, as `dploy apply` does after the files.
        func apply() throws -> (plan: Plan, runs: [TaskRunReport]) {
            let reconciler = try reconciler
            let desired = try reconciler.loadDesired()
            let plan = try reconciler.plan(desired: desired).plan
            return (plan, try reconciler.runTasks(plan, fleet: desired.fleet))
        }

        func runs(_ task: String) throws -> [TaskRun] { try #require(try reconciler.openStore(creating: false)).taskRuns(task: task) }
    }

    func knownServer(passwordAuthentication: Bool = false) throws -> SSHServer {
        let server = try SSHServer(passwordAuthentication: passwordAuthentication)
        try server.write("known_hosts", server.knownHostsLine + "\n")
        return server
    }

    @Test("a command runs once with its output kept; the next apply owes nothing; an edit runs it again")
    func runsOnce() throws {
        let site = try Site(server: try knownServer())
        let counter = site.server.path("ran")
        try site.task("hello", "echo hello from $(id -un); echo run >> \(counter)")
        let first = try site.apply()
        #expect(first.plan.tasks.map(\.targets) == [["node-0"]])
        #expect(first.runs.map(\.state) == [.succeeded], "\(first.runs.map(\.message))")
        let run = try #require(try site.runs("hello").first)
        #expect(run.output == "hello from \(site.server.user)\n" && run.exitCode == 0 && run.finishedAt != nil)

        let second = try site.apply()
        #expect(second.plan.tasks.isEmpty && second.runs.isEmpty)
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "run\n")

        try site.task("hello", "echo hello again; echo run >> \(counter)")
        let edited = try site.apply()
        #expect(edited.plan.tasks.first?.reason.code == .taskEdited)
        #expect(edited.runs.map(\.state) == [.succeeded])
        #expect(try String(contentsOfFile: counter, encoding: .utf8) == "run\nrun\n")
        #expect(try site.runs("hello").count == 2)
    }

    @Test("a failing command fails its run with the exit code and output; a hung one times out")
    func failuresAndTimeouts() throws {
        let site = try Site(server: try knownServer())
        try site.task("fails", "echo broken >&2; exit 4")
        try site.task("hangs", "sleep 30", timeout: "2s")
        let runs = try site.apply().runs
        let fails = try #require(try site.runs("fails").first)
        #expect(fails.state == .failed && fails.exitCode == 4 && fails.error == "exit code 4" && fails.output == "broken\n")
        let hangs = try #require(try site.runs("hangs").first)
        #expect(hangs.state == .failed)
        #expect(hangs.error == "ssh \(site.server.user)@127.0.0.1:\(site.server.port): the command timed out after 2 s; the session was closed")
        #expect(runs.count == 2)
    }

    @Test("a host key other than the recorded one fails the run naming both fingerprints; nothing runs")
    func changedHostKey() throws {
        let server = try SSHServer()
        let other = try KeyPair("ed25519", in: server.folder, name: "other_host")
        let fields = other.publicKey.split(separator: " ")
        try server.write("known_hosts", "[127.0.0.1]:\(server.port) \(fields[0]) \(fields[1])\n")
        let site = try Site(server: server)
        try site.task("touch", "touch \(server.path("touched"))")
        let runs = try site.apply().runs
        #expect(runs.map(\.state) == [.failed])
        let error = try #require(try site.runs("touch").first?.error)
        #expect(error.contains("HOST KEY CHANGED") && error.contains(other.fingerprint) && error.contains(server.hostKey.fingerprint))
        #expect(!FileManager.default.fileExists(atPath: server.path("touched")))
    }

    @Test("a task may log in with a password from its secret", .requiresRoot("password authentication needs a throwaway local account (useradd): run as root"))
    func password() throws {
        let account = try TemporaryAccount()
        let server = try knownServer(passwordAuthentication: true)
        let site = try Site(server: server, secret: "username: \(account.name)\npassword: '\(account.password)'\nallowedAddresses: [\"ssh://127.0.0.1:*\"]\n")
        try site.task("whoami", "id -un", user: account.name)
        #expect(try site.apply().runs.map(\.state) == [.succeeded])
        #expect(try site.runs("whoami").first?.output == account.name + "\n")
    }
}
