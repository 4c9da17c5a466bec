import Crypto
import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Several `dploy serve` processes on one PostgreSQL store, as issue 18's "done means" puts
/// it: a leader killed in the middle of its work, a leader frozen past its lease, the
/// database away. Each daemon is a real process in a folder of its own; what happened is read
/// where an operator reads it (`/v1/status`, `dploy tasks`, `dploy machines`, the store) and
/// where the target does (the iLO stand-in's request log).
@Suite("Several dploy serve processes on one PostgreSQL store", .ownThread,
       .serialized, .requires(.git, .curl, .openssl, .python3, .postgres, .initdb, .psql))
struct SharedStoreServeTests {
    let serve = ServeCommandTests()
    let cli = CommandLineTests()

    static let task = """
        apiVersion: dploy.org/v1
        kind: Task
        metadata: {name: cycle-bmc-a}
        spec:
          targets: {machines: [bmc-a]}
          power: cycle

        """

    /// An installer's callback for web-02 (generation 1 in the lab), signed with the store's
    /// key as the installer rendered by any of the servers would be.
    func installCallback(to daemon: ServeCommandTests.Daemon, key site: ServeCommandTests.Site) throws -> Int {
        let hex = try #require(site.file("state/callback.key")).trimmingCharacters(in: .whitespacesAndNewlines)
        let key = SymmetricKey(data: try #require(Hex.decode(hex)))
        let token = HMAC<SHA256>.authenticationCode(for: Array("94:18:82:3a:5c:2e|1".utf8), using: key).map { String(format: "%02x", $0) }.joined()
        return try serve.curl(["-X", "POST", "http://127.0.0.1:\(daemon.port)/v1/machines/94:18:82:3a:5c:2e/installed?generation=1&token=\(token)"]).status
    }

    @Test("kill -9 of the leader while its task's BMC reset is under way: a replica leads within the lease, the run is failed as interrupted and never sent again; a callback sent to both replicas meanwhile counts once")
    func leaderKilledMidTask() async throws {
        let lab = try SharedStoreLab()
        let leader = try await lab.start(1)
        let replicas = [try await lab.start(2), try await lab.start(3)]
        #expect(lab.roles([leader] + replicas) == ["apply", "replica", "replica"])

        // The task's reset hangs in the iLO until the test says: the leader is caught in it.
        try lab.ilo.hold("POST", ILOStandIn.reset)
        try lab.commit(SharedStoreLab.bmcMachine, generation: 1, extra: Self.task, message: "power-cycle bmc-a")
        #expect(try serve.webhook(leader.port, signed: true) == 202)
        #expect(try await eventually(20) { try lab.ilo.holding() }, "the leader sent the task's reset: \(leader.log)")
        #expect(try lab.sql("SELECT state FROM task_run WHERE task = 'cycle-bmc-a'") == "running")

        kill(leader.process.processIdentifier, SIGKILL)
        let killed = ContinuousClock.now
        // During the switch the installer calls back to one server, then, not hearing back in
        // time, to the other: the store takes the first and refuses the second.
        let answers = [try installCallback(to: replicas[0], key: lab.site(2)), try installCallback(to: replicas[1], key: lab.site(3))]
        #expect(answers == [204, 409], "\(answers)")

        #expect(try await eventually(15) { lab.roles(replicas).contains("apply") }, "\(replicas.map(\.log))")
        let takeover = ContinuousClock.now - killed
        print("kill -9 of the leader mid-task → a replica leads: \(takeover) (lease 3 s)")
        // Documented: a replica looks once per lease and takes over as soon as the dead
        // leader has missed a renewal; at worst the lease, then its next look.
        #expect(takeover < .seconds(7), "\(takeover)")
        let newLeader = try #require(replicas.first { (try? serve.status($0.port)?["role"] as? String) == "apply" })
        let other = try #require(replicas.first { $0 !== newLeader })
        #expect(lab.roles([other]) == ["replica"])

        // The new leader failed the run the dead one left, as interrupted; it does not run it again.
        #expect(try await eventually(10) { try lab.sql("SELECT state FROM task_run WHERE task = 'cycle-bmc-a'") == "failed" })
        let tasks = try cli.dploy("tasks", "--json", "--config", lab.first.config)
        #expect(tasks.status == 0, "\(tasks.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(tasks.stdout.utf8)) as? [[String: Any]])
        let runs = try #require(rows.first { $0["task"] as? String == "cycle-bmc-a" }?["runs"] as? [[String: Any]])
        #expect(runs.count == 1 && runs[0]["machine"] as? String == "bmc-a" && runs[0]["state"] as? String == "failed", "\(runs)")
        #expect((runs[0]["error"] as? String)?.hasPrefix("interrupted: dploy stopped while it ran") == true, "\(runs)")

        // The new leader applies the next commit; both servers write it; the reset was sent once.
        try serve.commitMachine("web-05", mac: "94:18:82:00:00:05", in: lab.first)
        #expect(try serve.webhook(newLeader.port, signed: true) == 202)
        let web05 = ServeCommandTests.ipxeFile("94:18:82:00:00:05")
        let (site2, site3) = (try lab.site(2), try lab.site(3))
        #expect(try await eventually(10) { site2.file(web05) != nil && site3.file(web05) != nil }, "both servers write the new commit")
        // Applied once, by the leader: only a leader records what it applied.
        #expect(try await eventually(10) {
            try lab.sql("SELECT count(*) FROM event WHERE mac = '94:18:82:00:00:05' AND kind = 'applied'") == "1"
        })
        #expect(try lab.ilo.count("POST", ILOStandIn.reset) == 1, "\((try? lab.ilo.requests()) ?? [])")
        #expect(try lab.sql("SELECT count(*) FROM task_run") == "1")

        // The callback: recorded once, as `dploy machines` and the events show.
        let machines = try cli.dploy("machines", "--json", "--config", lab.first.config)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(machines.stdout.utf8)) as? [[String: Any]], "\(machines.stderr)")
        let web02 = try #require(list.first { $0["name"] as? String == "web-02" })
        #expect(web02["installedGeneration"] as? Int == 1, "\(web02)")
        #expect(try lab.sql("SELECT count(*) FROM event WHERE mac = '94:18:82:3a:5c:2e' AND kind = 'installed'") == "1")
        #expect(try lab.sql("SELECT count(*) FROM install WHERE mac = '94:18:82:3a:5c:2e' AND finished_at IS NOT NULL") == "1")
        try lab.ilo.release()
        for daemon in replicas { #expect(try await daemon.terminate() == 0, "\(daemon.log)") }
    }

    @Test("a leader frozen past its lease in the middle of a reinstall's BMC steps, a task pending, wakes and sends nothing more: no power cycle, no task run, job, event or term of its own")
    func frozenLeaderFenced() async throws {
        let lab = try SharedStoreLab()
        // bmc-a runs generation 1: a new generation is a reinstall (boot once from network, power cycle).
        let store = try lab.store()
        let mac = try #require(MACAddress(SharedStoreLab.bmcMAC))
        try store.installStarted(mac, generation: 1, at: Date())
        try store.installFinished(mac, generation: 1, at: Date())
        let leader = try await lab.start(1)
        let standby = try await lab.start(2)
        #expect(lab.roles([leader, standby]) == ["apply", "replica"])

        // The reinstall's boot-once request hangs in the iLO: the leader is caught between its
        // steps, with the commit's task still to run after them.
        try lab.ilo.hold("PATCH", ILOStandIn.system)
        try lab.commit(SharedStoreLab.bmcMachine, generation: 2, extra: Self.task, message: "reinstall bmc-a, then power-cycle it")
        #expect(try serve.webhook(leader.port, signed: true) == 202)
        #expect(try await eventually(20) { try lab.ilo.holding() }, "\(leader.log)")
        let runs = try #require(try serve.status(leader.port)?["runs"] as? Int)
        kill(leader.process.processIdentifier, SIGSTOP)

        // Past the lease the standby leads and does the reinstall's steps and the task itself.
        #expect(try await eventually(15) { lab.roles([standby]) == ["apply"] }, "\(standby.log)")
        #expect(try await eventually(10) { try lab.ilo.count("POST", ILOStandIn.reset) == 2 })
        #expect(try await eventually(10) {
            let result = (try serve.status(standby.port)?["lastRun"] as? [String: Any])?["result"] as? String
            return try result == "converged" && lab.sql("SELECT state FROM task_run WHERE task = 'cycle-bmc-a'") == "succeeded"
        }, "\(standby.log)")
        let before = try lab.leaderWrites()
        let sent = try lab.ilo.requests().count
        #expect(try lab.sql("SELECT term FROM leader") == "2")

        // The old leader wakes; its boot-once request is answered. Its next step was the power cycle.
        kill(leader.process.processIdentifier, SIGCONT)
        try lab.ilo.release()
        // Its interrupted run ends, then one more run (a replica's, once per lease).
        #expect(try await eventually(15) { (try serve.status(leader.port)?["runs"] as? Int ?? 0) >= runs + 2 }, "\(leader.log)")
        #expect(lab.roles([leader, standby]) == ["replica", "apply"])
        let after = try lab.ilo.requests().dropFirst(sent)
        #expect(!after.contains { ["POST", "PATCH"].contains($0["method"] as? String ?? "") },
                "the woken leader changed nothing on the BMC: \(after)")
        #expect(try lab.ilo.count("POST", ILOStandIn.reset) == 2, "the standby's power cycle and its task's, no more")
        #expect(try lab.leaderWrites() == before, "no task run, BMC job, event or term written by the woken leader")
        #expect(try lab.sql("SELECT count(*) FROM task_run") == "1")
        #expect(leader.log.contains("no longer leads"), "\(leader.log)")
        #expect(try await standby.terminate() == 0)
        #expect(try await leader.terminate() == 0)
    }

    /// How the database goes away: stopped (connections refused at once) or frozen (a host
    /// that stops answering: every statement waits for its deadline).
    enum Outage: String, CustomTestStringConvertible, Sendable {
        case stopped, frozen
        var testDescription: String { rawValue }
    }

    @Test("the database away for 30 s: both servers keep answering boot requests, the leader stops applying and says so, and both recover without a restart",
          arguments: [Outage.stopped, .frozen])
    func databaseAway(_ outage: Outage) async throws {
        let server = try PostgresServer()
        defer { server.stop() }
        let lab = try SharedStoreLab(server: server)
        let daemons = [try await lab.start(1), try await lab.start(2)]
        #expect(lab.roles(daemons) == ["apply", "replica"])
        let sites = [try lab.site(1), try lab.site(2)]
        let web01 = "94:18:82:3a:5c:10", web01File = ServeCommandTests.ipxeFile("94:18:82:3a:5c:10")
        func boot(_ daemon: ServeCommandTests.Daemon, mac: String? = nil) throws -> (status: Int, body: String) {
            try serve.curl(["--max-time", "20", "http://127.0.0.1:\(daemon.port)/boot.ipxe" + (mac.map { "?mac=\($0)" } ?? "")])
        }
        let chain = try daemons.map { try boot($0).body }
        #expect(chain[0] == chain[1] && chain[0].contains("chain --autofree"), "\(chain)")
        // web-01 has never installed: it is sent to its installer (one attempt counted).
        #expect(try boot(daemons[0], mac: web01).body.contains("debian-12/linux"))
        let files = sites.map { $0.file(web01File) }

        switch outage {
        case .stopped: server.stop()
        case .frozen: server.freeze()
        }
        let away = ContinuousClock.now
        #expect(try await eventually(20) { lab.roles(daemons) == ["replica", "replica"] }, "\(lab.roles(daemons))")
        let noticed = ContinuousClock.now - away
        print("database \(outage): the leader stops leading after \(noticed)")
        // A commit meanwhile: the leader runs, fails, and says why; nobody writes it.
        try serve.commitMachine("web-06", mac: "94:18:82:00:00:06", in: lab.first)
        #expect(try serve.webhook(daemons[0].port, signed: true) == 202)
        #expect(try await eventually(30) { (try serve.status(daemons[0].port)?["lastRun"] as? [String: Any])?["result"] as? String == "failed" })
        let status = try #require(try serve.status(daemons[0].port))
        #expect(status["role"] as? String == "replica", "\(status)")
        #expect((status["roleReason"] as? String)?.contains("cannot tell who leads") == true
                || (status["roleReason"] as? String)?.contains("lost the lead") == true, "\(status)")

        // Boot requests are answered all along, by both: the chain script as before; a
        // machine's own script says to boot its disk, since what it is owed (an install, and
        // how many attempts it had) is in the store. Never an installer on facts it cannot read.
        var slowest = Duration.zero
        while ContinuousClock.now - away < .seconds(30) {
            for daemon in daemons {
                let asked = ContinuousClock.now
                #expect(try boot(daemon).body == chain[0])
                let answer = try boot(daemon, mac: web01)
                slowest = max(slowest, ContinuousClock.now - asked)
                #expect(answer.status == 200 && answer.body.hasPrefix("#!ipxe") && answer.body.contains("the store is busy or unavailable"),
                        "\(answer)")
                #expect(!answer.body.contains("debian-12/linux"))
            }
            try await Task.sleep(for: .seconds(2))
        }
        print("database \(outage): slowest boot answer while away: \(slowest)")
        #expect(sites.map { $0.file(web01File) } == files, "what each server wrote stays as it was")
        #expect(sites.allSatisfy { $0.file(ServeCommandTests.ipxeFile("94:18:82:00:00:06")) == nil })

        switch outage {
        case .stopped: try server.start()
        case .frozen: server.thaw()
        }
        let back = ContinuousClock.now
        #expect(try await eventually(30) { lab.roles(daemons).contains("apply") }, "\(daemons.map(\.log))")
        print("database \(outage) for 30 s: a leader again \(ContinuousClock.now - back) after it came back")
        // Without a restart: a new commit converges on both, one of them leading.
        try serve.commitMachine("web-07", mac: "94:18:82:00:00:07", in: lab.first)
        for daemon in daemons { #expect(try serve.webhook(daemon.port, signed: true) == 202) }
        #expect(try await eventually(60) {
            sites.allSatisfy { $0.file(ServeCommandTests.ipxeFile("94:18:82:00:00:07")) != nil && $0.file(ServeCommandTests.ipxeFile("94:18:82:00:00:06")) != nil }
        }, "\(daemons.map(\.log))")
        #expect(lab.roles(daemons).sorted() == ["apply", "replica"])
        #expect(try boot(daemons[1], mac: web01).body.contains("debian-12/linux"), "machines' own answers come from the store again")
        for daemon in daemons { #expect(try await daemon.terminate() == 0, "\(daemon.log)") }
    }
}
