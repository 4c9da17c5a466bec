import Crypto
@testable import DployController
import DployConfig
import DployGit
import DployInventory
import DployPlan
import DployRender
import DployServer
import DploySpec
import DployTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The reconcile loop in-process, following a real git repository: webhooks, standby, bad commits.
@Suite("the reconcile loop", .ownThread, .requires(.git))
struct DaemonLoopTests {
    /// The lab committed to `upstream/site-a`, and a controller config (mode apply, no DHCP)
    /// beside it. Without the lab's tasks: they would SSH to and boot machines that exist nowhere.
    final class Site: @unchecked Sendable {
        let root: URL
        let reconciler: Reconciler

        init(output: String = "{http: out/http, tftp: out/tftp}", interval: String = "1h", clock: WallClock = .system) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-loop-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try Self.shell("git init -q -b main upstream && cp -r '\(BootServerTests.repositoryRoot.path)/examples/lab' upstream/site-a"
                           + " && rm -r upstream/site-a/tasks && cd upstream && git add -A && git commit -q -m 'the lab'", in: root)
            let config = root.appendingPathComponent("dploy.yaml")
            try Data("""
                source: {url: "file://\(root.path)/upstream", ref: main, path: site-a}
                interval: \(interval)
                store: {sqlite: state/dploy.db}
                output: \(output)
                server: {url: "http://127.0.0.1:8080"}
                """.utf8).write(to: config)
            reconciler = Reconciler(config: try ControllerConfig.load(path: config.path).get(), configPath: config.path,
                                    keepingCaches: true, clock: clock)
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func loop(metrics: ControllerMetrics = ControllerMetrics(), live: LiveDesired? = nil,
                  newsSettle: Duration = .milliseconds(250)) throws -> ReconcileLoop {
            ReconcileLoop(reconciler: reconciler, store: try #require(try reconciler.openStore(creating: true)), metrics: metrics,
                          logger: Logger(label: "test"), live: live, newsSettle: newsSettle)
        }

        func commit(_ script: String) throws {
            try Self.shell("cd upstream && \(script) && git add -A && git commit -q -m change", in: root)
        }

        func file(_ path: String) -> String? {
            (try? Data(contentsOf: root.appendingPathComponent(path))).map { String(decoding: $0, as: UTF8.self) }
        }

        static func shell(_ script: String, in folder: URL) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", script]
            process.currentDirectoryURL = folder
            var environment = ProcessInfo.processInfo.environment
            environment["HOME"] = folder.path
            environment["GIT_CONFIG_NOSYSTEM"] = "1"
            for role in ["AUTHOR", "COMMITTER"] {
                environment["GIT_\(role)_NAME"] = "Test Operator"
                environment["GIT_\(role)_EMAIL"] = "ops@example.net"
            }
            process.environment = environment
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(script)")
        }
    }

    static let web05 = """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: web-05, labels: {role: web}}
        spec: {mac: "94:18:82:00:00:05", ip: 198.18.0.25}
        """
    static let web05File = "out/http/ipxe/94-18-82-00-00-05.ipxe"

    func sign(_ body: [UInt8], secret: String = "hook-secret") -> String {
        "sha256=" + HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    @Test("a commit plus a signed webhook converges; an unsigned one runs nothing; boot decisions follow git")
    func webhookConverges() async throws {
        let site = try Site()
        let store = try #require(try site.reconciler.openStore(creating: true))
        let live = try site.reconciler.liveDesired(store: store)
        let metrics = ControllerMetrics()
        let loop = try site.loop(metrics: metrics, live: live)
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastError ?? "")")
        #expect(site.file("out/http/ipxe/94-18-82-3a-5c-10.ipxe")?.contains("# dploy: web-01 (") == true)
        #expect(site.file("state/daemon-status.json")?.contains("\"result\":\"converged\"") == true)
        let events = try #require(try site.reconciler.openStore(creating: false)).events(for: MACAddress("94:18:82:3a:5c:10"), limit: 5)
        #expect(events.first?.kind == "applied")

        let server = BootHTTPServer(controller: FleetController(live: live, loop: loop),
                                    auth: WebAuth(token: BootServerTests.token),
                                    webhook: Webhook(secret: "hook-secret", followedRef: "main"),
                                    httpFolder: site.root.appendingPathComponent("out/http").path)
        try site.commit("printf '%s\\n' '\(Self.web05)' > site-a/machines/web-05.yaml")
        let body = Array(#"{"ref": "refs/heads/main"}"#.utf8)
        try await Application(router: server.router()).test(.live) { client in
            let (_, before) = try await BootServerTests().get(client, "/boot.ipxe?mac=94:18:82:00:00:05", token: nil)
            #expect(before.contains("is not in git"))

            let unsigned = try await client.execute(uri: "/v1/hooks/git", method: .post, body: ByteBuffer(bytes: body)) { $0.status }
            #expect(unsigned == .unauthorized)
            let forged = try await client.execute(uri: "/v1/hooks/git", method: .post,
                                                  headers: [HTTPField.Name("X-Hub-Signature-256")!: sign(body, secret: "guess")],
                                                  body: ByteBuffer(bytes: body)) { $0.status }
            #expect(forged == .unauthorized)
            // The handler has answered, so it is done: a trigger would be pending now, as the
            // loop does not run yet to take it.
            #expect(await loop.wake.wait(timeout: .zero) == false, "an unsigned delivery runs nothing")
            #expect(loop.status.runs == 1)
            #expect(site.file(Self.web05File) == nil)
            let running = Task { try await loop.run() }
            defer { running.cancel() }

            let signed = try await client.execute(uri: "/v1/hooks/git", method: .post,
                                                  headers: [HTTPField.Name("X-Hub-Signature-256")!: sign(body)],
                                                  body: ByteBuffer(bytes: body)) { $0.status }
            #expect(signed == .accepted)
            #expect(try await eventually { loop.status.runs == 2 })
            #expect(site.file(Self.web05File)?.contains("# dploy: web-05 (94:18:82:00:00:05), generation 0") == true)
            #expect(loop.status.lastRun?.trigger == "webhook")
            let (_, after) = try await BootServerTests().get(client, "/boot.ipxe?mac=94:18:82:00:00:05", token: nil)
            #expect(after.contains("echo dploy: installing web-05 with debian-12, generation 0"),
                    "the boot decisions follow the new commit")

            // A machine's script is decided when asked, without credentials: the same as the
            // planner's file on disk but for the line that says the file is a snapshot.
            let (served, script) = try await BootServerTests().get(client, "/ipxe/94-18-82-00-00-05.ipxe", token: nil)
            #expect(served == .ok)
            #expect(script == site.file(Self.web05File)?.replacingOccurrences(of: snapshotNote + "\n", with: ""))
            #expect(site.file(Self.web05File)?.contains(snapshotNote) == true)
            for escape in ["/ipxe/../../dploy.yaml", "/ipxe/%2e%2e/%2e%2e/dploy.yaml"] {
                let (status, _) = try await BootServerTests().get(client, escape, token: nil)
                #expect(status != .ok, "\(escape)")
            }
            try Data("staged".utf8).write(to: site.root.appendingPathComponent("out/http/ipxe/.tmp-staged"))
            let (hidden, _) = try await BootServerTests().get(client, "/ipxe/.tmp-staged", token: nil)
            #expect(hidden == .notFound, "hidden files are not served")
            let (_, metricsText) = try await BootServerTests().get(client, "/metrics")
            #expect(metricsText.contains("dploy_webhook_deliveries_total{result=\"unauthorized\"} 2"))
            #expect(metricsText.contains("dploy_webhook_deliveries_total{result=\"accepted\"} 1"))
            #expect(metricsText.contains("dploy_reconcile_runs_total{result=\"converged\"} 2"))
            // Every machine is counted once per condition type, by status.
            let (_, machinesJSON) = try await BootServerTests().get(client, "/v1/machines")
            let machines = try #require(try JSONSerialization.jsonObject(with: Data(machinesJSON.utf8)) as? [[String: Any]])
            let notInstalled = machines.count { ($0["conditions"] as? [[String: Any]])?.contains {
                $0["type"] as? String == "Installed" && $0["status"] as? String == "False" } == true }
            #expect(notInstalled > 0 && metricsText.contains("dploy_machine_condition{type=\"Installed\",status=\"False\"} \(notInstalled)"))
            let ready = metricsText.split(separator: "\n").filter { $0.hasPrefix("dploy_machine_condition{type=\"Ready\"") }
            #expect(ready.count == 3 && ready.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +) == Double(machines.count))
            let (_, statusJSON) = try await BootServerTests().get(client, "/v1/status")
            #expect(statusJSON.contains("\"role\":\"apply\""))
        }
    }

    /// Another process (a shell) writes over a boot file dploy wrote, keeping nothing of it.
    static let foreignScript = "#!ipxe\necho not from dploy\n"
    static let web01File = "out/http/ipxe/94-18-82-3a-5c-10.ipxe"

    @Test("a boot file another process edits is put back by the next run: inotify names it")
    func foreignEditWatched() async throws {
        let site = try Site()
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        let written = try #require(site.file(Self.web01File))
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged)
        #expect(site.reconciler.observationCache?.trust == .watched, "\(site.reconciler.observationCache?.problem ?? "")")

        try Site.shell("printf '\(Self.foreignScript)' > \(Self.web01File)", in: site.root)
        #expect(site.file(Self.web01File) == Self.foreignScript)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastRun?.message ?? "")")
        #expect(site.file(Self.web01File) == written)
    }

    @Test("unwatched, a boot file another process edits is trusted until the verification interval, then put back")
    func foreignEditAtVerification() async throws {
        let clock = ManualClock()
        let site = try Site(output: "{http: out/http, tftp: out/tftp, watch: false, verifyInterval: 5m}", clock: clock.wallClock)
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        let written = try #require(site.file(Self.web01File))
        #expect(site.reconciler.observationCache?.trust == .ownWrites)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged, "the apply's own writes looked at once more")

        try Site.shell("printf '\(Self.foreignScript)' > \(Self.web01File)", in: site.root)
        clock.advance(by: 299)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged, "trusted: dploy's own write is what it last saw")
        #expect(site.file(Self.web01File) != written)

        clock.advance(by: 1)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastRun?.message ?? "")")
        #expect(site.file(Self.web01File) == written)
    }

    @Test("after its first run, a commit that adds a machine plans that machine alone; a verification plans them all")
    func incrementalRuns() async throws {
        let clock = ManualClock()
        let site = try Site(output: "{http: out/http, tftp: out/tftp, verifyInterval: 5m}", clock: clock.wallClock)
        let loop = try site.loop()
        let planner = try #require(site.reconciler.renderCache)
        await loop.runOnce(trigger: "start")
        let fleet = try #require(loop.desired?.fleet.machines.count)
        #expect(planner.machinesPlanned == fleet)
        // The run after an apply plans again the machines it wrote: what is observed of them changed.
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged)

        try site.commit("printf '\(Self.web05)' > site-a/machines/web-05.yaml")
        await loop.runOnce(trigger: "webhook")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastRun?.message ?? "")")
        #expect(site.file(Self.web05File)?.contains("web-05") == true)
        #expect(planner.machinesPlanned == 1, "web-05 alone; the DHCP files from every machine's kept entry")

        // Each output.verifyInterval the loop looks at every file, and plans every machine afresh.
        clock.advance(by: 300)
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged)
        #expect(planner.machinesPlanned == fleet + 1)
    }

    @Test("a second loop on the same store stands by while the first holds the lock, and takes over after")
    func standby() async throws {
        let site = try Site()
        let first = try site.loop()
        await first.runOnce(trigger: "start")
        #expect(first.status.role == .apply)
        try site.commit("printf '%s\\n' '\(Self.web05)' > site-a/machines/web-05.yaml")

        let leaderStatus = site.file("state/daemon-status.json")
        let leaderSource = site.file("state/source-status.json")
        let second = try site.loop()
        await second.runOnce(trigger: "start")
        #expect(second.status.role == .standby)
        #expect(second.status.lastRun?.result == .planned)
        #expect(second.status.roleReason?.contains("pid \(getpid())") == true)
        #expect(second.status.pendingPlan?.machines.map(\.machine) == ["web-05"])
        #expect(site.file(Self.web05File) == nil, "a standby changes nothing")
        #expect(site.file("state/daemon-status.json") == leaderStatus, "the leader's status file is not overwritten by the standby")
        #expect(site.file("state/source-status.json") == leaderSource, "nor is the source status")

        try await Self.takeOver(from: first, by: second)
        #expect(second.status.lastRun?.result == .converged)
        #expect(site.file(Self.web05File) != nil)
    }

    /// `leader` lets go of the lock, as when its daemon dies, and `standby` runs until it leads.
    static func takeOver(from leader: ReconcileLoop, by standby: ReconcileLoop) async throws {
        leader.lock.release()
        // Other tests in this process start child processes; one forked in the instant the
        // lock was open holds a copy of it until its exec closes it (O_CLOEXEC). A standby
        // takes over on its next run after that, so the test runs again for at most 2 s.
        for _ in 0..<40 {
            await standby.runOnce(trigger: "interval")
            if standby.status.role == .apply { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(standby.status.role == .apply)
    }

    @Test("a bad commit changes nothing: the last good state stays and the error is in the status")
    func badCommit() async throws {
        let site = try Site()
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        let before = site.file("out/http/ipxe/94-18-82-3a-5c-10.ipxe")
        try site.commit("sed -i 's/generation: 1/generation: one/' site-a/machines/rack-r1.yaml")
        await loop.runOnce(trigger: "webhook")
        #expect(loop.status.lastRun?.result == .unchanged)
        let error = try #require(loop.status.source?.lastError)
        #expect(error.message.contains("site-a/machines/rack-r1.yaml:"))
        #expect(error.message.contains("'spec.generation' must be an integer"))
        #expect(site.file("out/http/ipxe/94-18-82-3a-5c-10.ipxe") == before)
        #expect(loop.status.lastRun?.source?.contains("newest commit refused") == true)
    }

    @Test("a commit naming a BIOS attribute web-01's BIOS (as last read) does not list is refused at its line with a suggestion; the last good state stays",
          .requiresHPEMockups)
    func badBIOSCommit() async throws {
        let site = try Site()
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        let good = try #require(loop.status.source?.lastGood)
        // What the leader's BMC watch last read of web-01: HPE's recorded DL380a Gen11. The loop
        // puts there what each run read, after that run's load, for the next one; the lab's BMCs
        // exist nowhere, so the test puts it there between two runs (BIOSApplyTests reads an iLO).
        let attributes = try HPEMockups.biosAttributes(HPEMockups.dl380aGen11)
        site.reconciler.knownBIOS.replace(with: [try #require(MACAddress("94:18:82:3a:5c:10")): ObservedBIOS(current: attributes, pending: attributes)])
        try site.commit(Self.badBIOSEdit)
        await loop.runOnce(trigger: "webhook")
        #expect(loop.status.lastRun?.result == .unchanged, "\(loop.status)")
        try Self.expectBIOSRefused(loop, good: good)
    }

    /// A commit giving web-01 an attribute its BIOS does not list (`ProcHyperThreading`, line 22).
    static let badBIOSEdit = "sed -i 's/^  hostname: web-01.lab.example.net$/&\\n  bios: {attributes: {ProcHyperThreading: Disabled}}/' "
        + "site-a/machines/rack-r1.yaml"

    /// `badBIOSEdit`'s commit was refused at its line, with the suggestion, and `good` stays in force.
    static func expectBIOSRefused(_ loop: ReconcileLoop, good: CommitInfo) throws {
        let error = try #require(loop.status.source?.lastError)
        // Line 22 is the one the commit added; column 23 is the name in it.
        #expect(error.message.contains("site-a/machines/rack-r1.yaml:22:23: error: machine 'web-01': 'bios.attributes.ProcHyperThreading': "
                                       + "the BIOS does not list an attribute 'ProcHyperThreading'; check its name (BIOS attribute names are "
                                       + "case-sensitive); did you mean 'ProcHyperthreading'?"), "\(error.message)")
        #expect(loop.status.source?.lastGood == good)
        #expect(loop.status.lastRun?.source?.contains("newest commit refused") == true)
        let inForce = try #require(loop.desired?.fleet.machine(named: "web-01"))
        #expect(inForce.settings.bios == nil, "the last good commit's web-01, without the refused BIOS settings")
    }

    @Test("a daemon restarted with web-01's BIOS reading in its store refuses, in its first run, a commit naming an attribute that BIOS does not list",
          .requiresHPEMockups)
    func badBIOSCommitAfterRestart() async throws {
        let site = try Site()
        let before = try site.loop()
        await before.runOnce(trigger: "start")
        let good = try #require(before.status.source?.lastGood)
        // What the BMC watch stored of web-01 before the daemon stopped: HPE's recorded DL380a
        // Gen11 (the lab's BMCs exist nowhere, so the test writes the reading as the watch does).
        let store = try #require(try site.reconciler.openStore(creating: true))
        let attributes = try HPEMockups.biosAttributes(HPEMockups.dl380aGen11)
        try store.recordBMCReadings([BMCRecord(mac: try #require(MACAddress("94:18:82:3a:5c:10")), readAt: Date(), power: "On",
                                               biosAttributes: BIOSAttributeTypes(names: Set(attributes.keys), current: attributes,
                                                                                  pending: attributes))])
        before.lock.release()
        try site.commit(Self.badBIOSEdit)

        // The restart: a new reconciler and loop, nothing of the last process in memory.
        let reconciler = Reconciler(config: site.reconciler.config, configPath: site.reconciler.configPath, keepingCaches: true)
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(), logger: Logger(label: "test"))
        await loop.runOnce(trigger: "start")
        #expect(loop.status.role == .apply)
        try Self.expectBIOSRefused(loop, good: good)
    }

    @Test("what machines boot follows only applied state: not a plan-only plan, not a failed apply")
    func bootsFollowAppliedState() async throws {
        for (setting, result) in [("mode: plan-only", DaemonStatus.Run.Result.planned),
                                  ("dhcp: {backend: dnsmasq, config: out/dhcp/dploy.conf, check: \"false {file}\"}", .failed)] {
            let site = try Site()
            let path = site.reconciler.configPath
            try Data((String(contentsOfFile: path, encoding: .utf8) + "\n\(setting)\n").utf8).write(to: URL(fileURLWithPath: path))
            let reconciler = Reconciler(config: try ControllerConfig.load(path: path).get(), configPath: path)
            let store = try #require(try reconciler.openStore(creating: true))
            let live = try reconciler.liveDesired(store: store)
            let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(),
                                     logger: Logger(label: "test"), live: live)
            await loop.runOnce(trigger: "start")
            #expect(loop.status.lastRun?.result == result, "\(setting): \(loop.status.lastError ?? "")")
            #expect(loop.status.role == (result == .planned ? .planOnly : .apply))
            #expect(live.snapshot == nil, "\(setting): boots keep their disks until a commit is applied")
            #expect(site.file("out/http/ipxe/94-18-82-3a-5c-10.ipxe") == nil)
        }
    }

    @Test("a failed run reports the daemon's real role")
    func failedRunRole() async throws {
        let site = try Site()
        let path = site.reconciler.configPath
        try Data((String(contentsOfFile: path, encoding: .utf8) + "\nmode: plan-only\n").utf8).write(to: URL(fileURLWithPath: path))
        try site.commit("sed -i 's/generation: 1/generation: one/' site-a/machines/rack-r1.yaml")
        let reconciler = Reconciler(config: try ControllerConfig.load(path: path).get(), configPath: path)
        let loop = ReconcileLoop(reconciler: reconciler, store: try #require(try reconciler.openStore(creating: true)),
                                 metrics: ControllerMetrics(), logger: Logger(label: "test"))
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.result == .failed)
        #expect(loop.status.lastError?.contains("no desired state in force") == true)
        #expect(loop.status.role == .planOnly)
    }

    @Test("plan-only and suspend plan and say why, and change nothing")
    func planOnly() async throws {
        for setting in ["mode: plan-only", "suspend: true"] {
            let site = try Site()
            let path = site.reconciler.configPath
            try Data((String(contentsOfFile: path, encoding: .utf8) + "\n\(setting)\n").utf8).write(to: URL(fileURLWithPath: path))
            let reconciler = Reconciler(config: try ControllerConfig.load(path: path).get(), configPath: path)
            let loop = ReconcileLoop(reconciler: reconciler, store: try #require(try reconciler.openStore(creating: true)),
                                     metrics: ControllerMetrics(), logger: Logger(label: "test"))
            await loop.runOnce(trigger: "start")
            #expect(loop.status.lastRun?.result == .planned)
            #expect(loop.status.roleReason == "\(setting) in \(path)")
            #expect(loop.status.pendingPlan?.toAdd == 8)
            #expect(site.file("out/http/ipxe/94-18-82-3a-5c-10.ipxe") == nil)
        }
    }

    @Test("a run woken by BMC news plans the commit in force without fetching; the webhook's run fetches the new one")
    func newsRunsPlanTheCommitInForce() async throws {
        let site = try Site()
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastError ?? "")")
        try site.commit("printf '%s\\n' '\(Self.web05)' > site-a/machines/web-05.yaml")
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        loop.news()
        #expect(try await eventually { loop.status.runs == 2 })
        #expect(loop.status.lastRun?.trigger == ReconcileLoop.newsTrigger && loop.status.lastRun?.result != .failed)
        #expect(loop.status.lastRun?.steps["load"] == nil, "nothing fetched or loaded")
        #expect(site.file(Self.web05File) == nil, "the new commit is not fetched by a run on news")
        loop.trigger()
        #expect(try await eventually { loop.status.runs == 3 })
        #expect(loop.status.lastRun?.trigger == "webhook")
        #expect(site.file(Self.web05File)?.contains("# dploy: web-05 (") == true)
    }

    @Test("news in a burst gathers into one run; a webhook meanwhile does not wait for the gathering")
    func newsGathers() async throws {
        let site = try Site()
        // Long enough that the test, not the machine's speed, decides what falls inside it.
        let settle = 6.0
        let loop = try site.loop(newsSettle: .seconds(settle))
        await loop.runOnce(trigger: "start")
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        // Twenty pieces of news in a second, as a rollout's ending jobs and BMC readings bring.
        for _ in 0..<20 {
            loop.news()
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await eventually { loop.status.runs == 2 })
        let newsRun = try #require(loop.status.lastRun)
        #expect(newsRun.trigger == ReconcileLoop.newsTrigger)
        try await Task.sleep(for: .seconds(1))
        #expect(loop.status.runs == 2, "the burst took one run, not one per wake")
        // News again: the loop gathers it until `settle` after the last run ended, and a
        // commit's webhook comes while it does.
        try site.commit("printf '%s\\n' '\(Self.web05)' > site-a/machines/web-05.yaml")
        loop.news()
        #expect(try await eventually { loop.wake.hasWaiter }, "the loop waits, gathering news")
        loop.trigger()
        #expect(try await eventually { loop.status.runs == 3 })
        let webhookRun = try #require(loop.status.lastRun)
        #expect(webhookRun.trigger == "webhook")
        #expect(webhookRun.startedAt.timeIntervalSince(newsRun.finishedAt) < settle, "the webhook's run did not wait out the news")
        #expect(site.file(Self.web05File) != nil)
    }

    @Test("runs on news do not put off the interval's fetch: without a webhook, a commit lands during a rollout's stream of news")
    func newsDoesNotPutOffTheInterval() async throws {
        let site = try Site(interval: "2s")
        let loop = try site.loop()
        await loop.runOnce(trigger: "start")
        try site.commit("printf '%s\\n' '\(Self.web05)' > site-a/machines/web-05.yaml")
        let running = Task { try await loop.run() }
        defer { running.cancel() }
        // News ten times a second, as finished jobs and BMC readings bring during a rollout.
        let deadline = ContinuousClock.now + .seconds(20)
        while site.file(Self.web05File) == nil, ContinuousClock.now < deadline {
            loop.news()
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(site.file(Self.web05File) != nil, "the interval's run fetched the commit: \(loop.status.lastRun?.trigger ?? "")")
    }

    @Test("a thread executor runs its tasks on its thread, at the process's priority, and tasks left after it ends still run; background threads are niced")
    func threadExecutor() async throws {
        let process = Int(Self.threadStat(field: 16, of: "/proc/self/stat"))!
        let executor = ThreadExecutor(name: "dploy-test-run")
        let (name, nice) = await withTaskExecutorPreference(executor) { await Self.whereThisRuns() }
        #expect(name == "dploy-test-run" && nice == process, "threads it starts must be able to keep up (a lease's renewal)")
        let background = await withCheckedContinuation { continuation in
            Thread {
                ThreadPriority.runCurrentThreadInBackground()
                continuation.resume(returning: Int(Self.threadStat(field: 16)) ?? 0)
            }.start()
        }
        #expect(background == process + Int(ThreadPriority.backgroundNiceness))
        executor.finish()
        // After its thread ended, a task that prefers it runs on Swift's pool.
        var after = name
        for _ in 0..<200 where after == name {
            after = await withTaskExecutorPreference(executor) { await Self.whereThisRuns() }.name
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(after != name && !after.isEmpty)
    }

    /// The name and nice value of the thread an async function runs on.
    static func whereThisRuns() async -> (name: String, nice: Int) {
        // Resumed from a suspension, the task runs where it prefers; until then, maybe where
        // its caller did.
        try? await Task.sleep(for: .milliseconds(1))
        return (threadStat(field: nil), Int(threadStat(field: 16)) ?? 0)
    }

    /// The calling thread's name (`field` nil), or a field of its stat line after the name
    /// (0 is the state; 16 is the nice value).
    static func threadStat(field: Int?, of path: String = "/proc/thread-self/stat") -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return "" }
        guard let field else { return String(text[text.index(after: open)..<close]) }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        return field < fields.count ? String(fields[field]) : ""
    }

    @Test("signals during a run collapse into one more run")
    func wakeSignalCoalesces() async throws {
        let signal = WakeSignal()
        signal.signal()
        signal.signal()
        signal.signal()
        #expect(await signal.wait(timeout: .seconds(5)) == true, "a pending signal returns at once")
        #expect(await signal.wait(timeout: .zero) == false, "three signals made one run, not three: none is left pending")
        let waiting = Task { await signal.wait(timeout: .seconds(30)) }
        // Parked first, so the signal takes the path that wakes a waiting loop.
        #expect(try await eventually { signal.hasWaiter })
        signal.signal()
        #expect(await waiting.value == true, "a signal wakes a waiting loop")
    }
}
