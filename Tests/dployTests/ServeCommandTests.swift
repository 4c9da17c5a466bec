import Crypto
import DployTestSupport
import Foundation
import Testing

/// `dploy serve` as an operator runs it: a real process on loopback following a file://
/// repository, driven by signed webhooks and signals, seen through curl and Chromium.
@Suite("dploy serve, the daemon", .ownThread,
       .serialized, .requires(.git, .curl))
struct ServeCommandTests {
    let source = SourceCommandTests()

    /// `htpasswd -B -C 4` of user "ops", password "correct horse".
    static let htpasswd = "ops:$2b$04$s5/wu0P2GTQadW.psFkxi.l6S9nDlJzJJ05UitsH1gVUeBpD4fcty\n"
    static let secret = "hook-secret-for-tests"

    /// The lab in `upstream/site-a`, a controller config that applies, its secrets (mode 0600).
    struct Site {
        let root: URL
        var config: String { root.appendingPathComponent("dploy.yaml").path }

        func file(_ path: String) -> String? {
            (try? Data(contentsOf: root.appendingPathComponent(path))).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    func makeSite() throws -> Site {
        let root = try source.makeLabRepository()
        try Data("""
            source: {url: "file://\(root.path)/upstream", ref: main, path: site-a}
            interval: 1h
            store: {sqlite: state/dploy.db}
            output: {http: out/http, tftp: out/tftp}
            server: {url: "http://127.0.0.1:8080"}
            webhook: {secretFile: secrets/webhook}
            web: {htpasswd: secrets/htpasswd}

            """.utf8).write(to: root.appendingPathComponent("dploy.yaml"))
        let secrets = root.appendingPathComponent("secrets")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        for (name, text) in ["webhook": Self.secret + "\n", "htpasswd": Self.htpasswd] {
            let path = secrets.appendingPathComponent(name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        }
        return Site(root: root)
    }

    func commitMachine(_ name: String, mac: String, in site: Site) throws {
        try source.shell("""
            cd upstream && printf 'apiVersion: dploy.org/v1\\nkind: Machine\\nmetadata: {name: \(name)}\\nspec: {mac: "\(mac)"}\\n' \
            > site-a/machines/\(name).yaml && git add -A && git commit -q -m 'add \(name)'
            """, in: site.root)
    }

    static func ipxeFile(_ mac: String) -> String { "out/http/ipxe/\(mac.replacingOccurrences(of: ":", with: "-")).ipxe" }

    /// A running `dploy serve`; SIGKILLed if a test forgets it. It listens on port 0 (the
    /// kernel's choice) and the test reads the port from its log, so it never talks to a
    /// port another test's server may hold.
    final class Daemon {
        let process = Process()
        let port: Int
        let stderr: URL

        init(site: Site) async throws {
            stderr = site.root.appendingPathComponent("serve-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
            process.executableURL = CommandLineTests.binary
            process.arguments = ["serve", "--config", site.config, "--listen", "127.0.0.1:0", "--log-format", "json"]
            process.currentDirectoryURL = site.root
            process.standardOutput = FileHandle(forWritingAtPath: stderr.path)
            process.standardError = FileHandle(forWritingAtPath: stderr.path)
            try process.run()
            let log = stderr, child = process
            let text = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            let marker = "Server started and listening on"
            guard try await eventually(60, { reportedPort(in: text(), line: marker) != nil || !child.isRunning }),
                  let port = reportedPort(in: text(), line: marker) else {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw ToolFailure(message: "dploy serve did not report its port: \(text())")
            }
            self.port = port
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

        var log: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

        /// Sends SIGTERM and waits (at most 20 s) for the exit; returns the exit status.
        func terminate() async throws -> Int32? {
            kill(process.processIdentifier, SIGTERM)
            _ = try await eventually(20) { !process.isRunning }
            return process.isRunning ? nil : process.terminationStatus
        }
    }

    /// curl's status code and body.
    func curl(_ arguments: [String]) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-w", "\n%{http_code}"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// A push delivery; its body names a delivery id of its own, as a forge's payload differs
    /// per push: dploy refuses the same signed body twice within 10 minutes as a replay.
    func webhook(_ port: Int, signed: Bool) throws -> Int {
        let delivery = UUID().uuidString
        let body = #"{"ref": "refs/heads/main", "delivery": "\#(delivery)"}"#
        var arguments = ["-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Dploy-Delivery: \(delivery)",
                         "--data-binary", body]
        if signed {
            let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(Self.secret.utf8)))
            arguments += ["-H", "X-Gitea-Signature: " + mac.map { String(format: "%02x", $0) }.joined()]
        }
        return try curl(arguments + ["http://127.0.0.1:\(port)/v1/hooks/git"]).status
    }

    func status(_ port: Int) throws -> [String: Any]? {
        let answer = try curl(["-u", "ops:correct horse", "http://127.0.0.1:\(port)/v1/status"])
        return try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
    }

    /// Serving, with its first reconcile done.
    func started(_ daemon: Daemon) async throws -> Bool {
        try await eventually { (try status(daemon.port)?["runs"] as? Int ?? 0) >= 1 }
    }

    @Test("commit + signed webhook converges; unsigned changes nothing; a standby takes over; SIGTERM exits cleanly")
    func followsGit() async throws {
        let site = try makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        let first = try await Daemon(site: site)
        #expect(try await started(first), "\(first.log)")
        #expect(site.file(Self.ipxeFile("94:18:82:3a:5c:10"))?.contains("# dploy: web-01 (") == true, "converged at start")

        try commitMachine("web-05", mac: "94:18:82:00:00:05", in: site)
        #expect(try webhook(first.port, signed: false) == 401)
        // The daemon answers after deciding; DaemonLoopTests proves in-process that a refused
        // delivery leaves no run pending. Here: no run was counted, and no file written.
        #expect(try status(first.port)?["runs"] as? Int == 1)
        #expect(site.file(Self.ipxeFile("94:18:82:00:00:05")) == nil, "an unsigned delivery runs nothing")
        let sent = ContinuousClock.now
        #expect(try webhook(first.port, signed: true) == 202)
        #expect(try await eventually { site.file(Self.ipxeFile("94:18:82:00:00:05")) != nil })
        print("commit → converged through the webhook: \(ContinuousClock.now - sent)")
        #expect(site.file(Self.ipxeFile("94:18:82:00:00:05"))?.contains("# dploy: web-05 (94:18:82:00:00:05)") == true)
        // The run logs the machine it applied after writing its files: wait for the line too.
        #expect(try await eventually { first.log.contains(#""level":"info""#) && first.log.contains(#""machine":"web-05""#) },
                "JSON log lines name the machine")

        // A second daemon on the same store plans but does not apply while the first lives.
        let second = try await Daemon(site: site)
        #expect(try await started(second), "\(second.log)")
        try commitMachine("web-06", mac: "94:18:82:00:00:06", in: site)
        #expect(try webhook(second.port, signed: true) == 202)
        #expect(try await eventually { (try status(second.port)?["runs"] as? Int) == 2 })
        let standby = try #require(try status(second.port))
        #expect(standby["role"] as? String == "standby")
        #expect((standby["roleReason"] as? String)?.contains("pid \(first.process.processIdentifier)") == true)
        #expect(site.file(Self.ipxeFile("94:18:82:00:00:06")) == nil, "the standby applied nothing")

        #expect(try await first.terminate() == 0, "SIGTERM exits cleanly: \(first.log)")
        #expect(try webhook(second.port, signed: true) == 202)
        #expect(try await eventually { site.file(Self.ipxeFile("94:18:82:00:00:06")) != nil }, "the standby takes over")
        // The file lands during the run; the status says who applied once the run is over.
        #expect(try await eventually { try status(second.port)?["role"] as? String == "apply" })

        // SIGTERM right after a webhook: the run in progress finishes or never starts, the
        // process exits 0, and the next start converges.
        try commitMachine("web-07", mac: "94:18:82:00:00:07", in: site)
        #expect(try webhook(second.port, signed: true) == 202)
        #expect(try await second.terminate() == 0, "\(second.log)")
        let restarted = try await Daemon(site: site)
        #expect(try await started(restarted), "\(restarted.log)")
        #expect(site.file(Self.ipxeFile("94:18:82:00:00:07")) != nil)
        let statusRun = try CommandLineTests().dploy("status", "--config", site.config)
        #expect(statusRun.status == 0, "\(statusRun.stderr)")
        #expect(statusRun.stdout.contains("daemon:       running (pid \(restarted.process.processIdentifier)), role apply"))
        #expect(try await restarted.terminate() == 0)
        let stopped = try CommandLineTests().dploy("status", "--config", site.config)
        #expect(stopped.stdout.contains("daemon:       not running"))
    }

    @Test("two boot servers on one PostgreSQL store: the replica writes its own files; kill -9 of the leader hands over at once; a leader frozen past its lease wakes as a replica",
          .requires(.postgres, .initdb, .psql))
    func sharedStoreFailover() async throws {
        let site = try makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        _ = FileManager.default.createFile(atPath: site.root.appendingPathComponent("secrets/db.password").path,
                                           contents: Data((server.password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let config = try String(contentsOfFile: site.config, encoding: .utf8).replacingOccurrences(
            of: "store: {sqlite: state/dploy.db}",
            with: "store: {postgres: {url: '\(database.url)', passwordFile: secrets/db.password, tls: disable, lease: 3s}}")
        try Data(config.utf8).write(to: URL(fileURLWithPath: site.config))

        let first = try await Daemon(site: site)
        #expect(try await started(first), "\(first.log)")
        #expect(try status(first.port)?["role"] as? String == "apply")

        // A second boot server: its own folder (state, output), the same git, store and secrets.
        let other = Site(root: site.root.appendingPathComponent("boot-2"))
        try FileManager.default.createDirectory(at: other.root.appendingPathComponent("state"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: site.root.appendingPathComponent("secrets"), to: other.root.appendingPathComponent("secrets"))
        try Data(config.utf8).write(to: URL(fileURLWithPath: other.config))
        let second = try await Daemon(site: other)
        #expect(try await started(second), "\(second.log)")
        let replica = try #require(try status(second.port))
        #expect(replica["role"] as? String == "replica", "\(replica)")
        #expect((replica["roleReason"] as? String)?.contains("leads site 'default' in postgres://dploy@/") == true, "\(replica)")
        #expect(other.file(Self.ipxeFile("94:18:82:3a:5c:10"))?.contains("# dploy: web-01 (") == true, "the replica wrote its own files")
        // Installers call back to either server: both check the store's one callback key.
        #expect(other.file("state/callback.key") != nil && other.file("state/callback.key") == site.file("state/callback.key"))

        // The leader dies without a word: its lease connection closes with it.
        kill(first.process.processIdentifier, SIGKILL)
        try commitMachine("web-05", mac: "94:18:82:00:00:05", in: site)
        let killed = ContinuousClock.now
        #expect(try webhook(second.port, signed: true) == 202)
        #expect(try await eventually(10) { try status(second.port)?["role"] as? String == "apply" }, "\(second.log)")
        print("kill -9 of the leader → the replica leads: \(ContinuousClock.now - killed)")
        #expect(other.file(Self.ipxeFile("94:18:82:00:00:05")) != nil)

        // A third daemon on the first folder is a replica; the leader freezes past its 3 s lease, and the third takes over.
        let third = try await Daemon(site: site)
        #expect(try await started(third), "\(third.log)")
        #expect(try status(third.port)?["role"] as? String == "replica")
        #expect(site.file(Self.ipxeFile("94:18:82:00:00:05")) != nil, "the replica caught up with the commit")
        kill(second.process.processIdentifier, SIGSTOP)
        try await Task.sleep(for: .seconds(4))
        #expect(try webhook(third.port, signed: true) == 202)
        #expect(try await eventually(10) { try status(third.port)?["role"] as? String == "apply" }, "\(third.log)")
        #expect(try server.psql("SELECT term FROM leader", database: database.name) == "3\n", "three leaders, three terms")
        kill(second.process.processIdentifier, SIGCONT)
        #expect(try await eventually(5) { (try? status(second.port)) != nil })
        #expect(try webhook(second.port, signed: true) == 202)
        #expect(try await eventually(10) { try status(second.port)?["role"] as? String == "replica" }, "\(second.log)")
        #expect(try server.psql("SELECT term FROM leader", database: database.name) == "3\n", "the woken leader took nothing back")
        #expect(try await third.terminate() == 0)
        #expect(try await second.terminate() == 0)
    }

    @Test("dploy serve refuses to start when its state would be served to the boot network")
    func refusesServedState() throws {
        let site = try makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        let config = try String(contentsOfFile: site.config, encoding: .utf8)
            .replacingOccurrences(of: "output: {http: out/http, tftp: out/tftp}", with: "output: {http: ., tftp: out/tftp}")
        try Data(config.utf8).write(to: URL(fileURLWithPath: site.config))
        let run = try CommandLineTests().dploy("serve", "--config", site.config, "--listen", "127.0.0.1:0")
        #expect(run.status == 1)
        #expect(run.stderr.contains("is inside output.http"), "\(run.stderr)")
        #expect(run.stderr.contains("served to the boot network without credentials"))
        #expect(!FileManager.default.fileExists(atPath: site.root.appendingPathComponent("state").path),
                "nothing was created before the refusal")
    }

    @Test("dploy serve refuses an output.http that reaches its state through a symlink")
    func refusesServedStateThroughSymlink() throws {
        let site = try makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        // out/http -> the site folder, which holds state/: the paths differ, the files do not.
        let out = site.root.appendingPathComponent("out")
        try? FileManager.default.removeItem(at: out.appendingPathComponent("http"))
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: out.appendingPathComponent("http").path,
                                                   withDestinationPath: site.root.path)
        let run = try CommandLineTests().dploy("serve", "--config", site.config, "--listen", "127.0.0.1:0")
        #expect(run.status == 1)
        #expect(run.stderr.contains("the state folder (store.sqlite's folder)"), "\(run.stderr)")
        #expect(run.stderr.contains("/out/http), which is served to the boot network"), "\(run.stderr)")
    }

    static let chromium = Tool.chromium.path

    @Test("the web page in headless Chromium: machines, states and links; refused without credentials",
          .requires(.chromium))
    func browser() async throws {
        let site = try makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        let daemon = try await Daemon(site: site)
        #expect(try await started(daemon), "\(daemon.log)")
        defer { kill(daemon.process.processIdentifier, SIGTERM) }

        let page = "http://127.0.0.1:\(daemon.port)/"
        let dom = try chromium(["--dump-dom", "http://ops:correct%20horse@127.0.0.1:\(daemon.port)/"], in: site.root)
        for name in ["web-01", "web-02", "web-03", "web-04", "db-01", "db-02", "db-03", "spare-01"] {
            #expect(dom.contains("<tr data-machine=\"\(name)\">"), "\(name)")
        }
        #expect(dom.contains("<td class=\"state state-never-seen\">never seen</td>"))
        #expect(dom.contains("href=\"https://198.18.0.121\""), "web-01's iLO")
        #expect(dom.contains("href=\"https://198.18.0.21:2381/\""), "web-01's System Management Homepage")
        #expect(dom.contains("href=\"https://198.18.0.21:10000/\""), "web-01's Webmin")

        // Without credentials the browser gets the Basic challenge (headless Chromium shows an
        // empty page for it) and nothing about the fleet.
        let refused = try chromium(["--dump-dom", page], in: site.root)
        #expect(!refused.contains("web-01") && !refused.contains("<tr data-machine"))
        let plain = try curl([page])
        #expect(plain.status == 401)
        #expect(plain.body.contains("Sign in") && !plain.body.contains("web-01"))

        let artifacts = CommandLineTests.repositoryRoot.appendingPathComponent("test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let screenshot = artifacts.appendingPathComponent("web-page-servers.png")
        try? FileManager.default.removeItem(at: screenshot)
        _ = try chromium(["--window-size=1400,600", "--screenshot=\(screenshot.path)",
                          "http://ops:correct%20horse@127.0.0.1:\(daemon.port)/"], in: site.root)
        #expect(FileManager.default.fileExists(atPath: screenshot.path))
    }

    /// Runs headless Chromium with its own throwaway profile; returns stdout.
    func chromium(_ arguments: [String], in folder: URL) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.chromium)
        let profile = folder.appendingPathComponent("chromium-profile-\(UUID().uuidString)")
        // --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--user-data-dir=\(profile.path)"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
