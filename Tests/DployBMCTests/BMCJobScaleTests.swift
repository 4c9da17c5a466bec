import DployApply
@testable import DployBMC
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// Many iLOs in one fixture process (`ilo_fixture.py --count N`), each on its own port with
/// its own state; iLO 5 flashes that take `updateSeconds` of wall time.
final class ILOFleetFixture: @unchecked Sendable {
    let folder: TemporaryFolder
    let certificate: TestCertificate
    let ports: [Int]
    let username = "Administrator"
    let password: String
    private let child: ChildProcess

    init(count: Int, updateSeconds: Double, flashTo: String) throws {
        folder = try TemporaryFolder(prefix: "dploy-ilos")
        certificate = try TestCertificate(in: folder)
        password = "ilo-" + UUID().uuidString.prefix(12)
        try folder.write("password", password)
        child = try ChildProcess(try Tool.python3.require(), [
            fixtures.appendingPathComponent("ilo_fixture.py").path, "--cert", certificate.certificate, "--key", certificate.key,
            "--user", username, "--password-file", folder.file("password"), "--generation", "5",
            "--count", String(count), "--update-seconds", String(updateSeconds), "--flash-to", flashTo,
        ])
        let line = child.firstLine()
        let ports = line.hasPrefix("PORTS ") ? line.dropFirst(6).split(separator: " ").compactMap { Int($0) } : []
        guard ports.count == count else { throw ToolFailure(message: "the iLO fleet fixture did not start: '\(line)'") }
        self.ports = ports
    }

    func baseURL(_ index: Int) -> String { "https://127.0.0.1:\(ports[index])" }

    /// Each iLO's request log, by port.
    func logs() throws -> [Int: [JSONValue]] {
        var options = quickOptions()
        options.useSessions = false
        let basic = RedfishConnection(endpoint: try BMCEndpoint(address: baseURL(0), username: username, password: password,
                                                                tls: TLSPolicy(caFile: certificate.certificate)), options: options)
        defer { basic.close() }
        let bmcs = try basic.get("/_fixture/all-logs").json?["bmcs"]?.array ?? []
        return Dictionary(bmcs.compactMap { bmc in bmc["port"]?.int.map { ($0, bmc["log"]?.array ?? []) } }) { first, _ in first }
    }

    /// From now on, the flashes of the iLO at `index` end in Error.
    func failUpdates(_ index: Int) throws {
        var options = quickOptions()
        options.useSessions = false
        let basic = RedfishConnection(endpoint: try BMCEndpoint(address: baseURL(index), username: username, password: password,
                                                                tls: TLSPolicy(caFile: certificate.certificate)), options: options)
        defer { basic.close() }
        _ = try basic.send(.post, "/_fixture/fail-updates", body: .object([:]), doing: "make the fixture's flashes fail")
    }

    func stop() { child.stop() }
}

/// A controller folder for a fleet fixture: specs/, secrets/ilo.yaml (its login, mode
/// 0600), and an iLO 5 3.08 image served on loopback.
final class FleetLab: @unchecked Sendable {
    let folder: TemporaryFolder
    let images: FileServer
    let sha256: String
    let ilos: ILOFleetFixture

    init(_ ilos: ILOFleetFixture, prefix: String) async throws {
        self.ilos = ilos
        let folder = try TemporaryFolder(prefix: prefix)
        for sub in ["specs", "secrets", "images/fw"] {
            try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
        }
        try folder.write("images/fw/ilo5_308.fwpkg", String(repeating: "iLO 5 3.08 firmware\n", count: 500), mode: 0o644)
        images = try await FileServer(serving: folder.file("images"), log: folder.file("images.log"))
        sha256 = String(try run("/usr/bin/sha256sum", [folder.file("images/fw/ilo5_308.fwpkg")]).prefix(64))
        try folder.write("secrets/ilo.yaml", "username: \(ilos.username)\npassword: '\(ilos.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        self.folder = folder
    }

    /// The FirmwareBaseline `gen10` (iLO 5 3.08 for the DL180 Gen10), `extra` appended to its spec.
    func baseline(_ extra: String = "") -> String {
        """
        apiVersion: dploy.org/v1
        kind: FirmwareBaseline
        metadata: {name: gen10}
        spec:
          models: ["ProLiant DL180 Gen10"]
          components:
            - {name: "iLO 5", version: "3.08", image: "http://127.0.0.1:\(images.port)/fw/ilo5_308.fwpkg", sha256: "\(sha256)"}
        \(extra)
        ---

        """
    }

    /// Machine `name` on the fixture's iLO `index`, `extra` (indented lines) in its spec.
    func machine(_ index: Int, name: String, labels: String = "{}", extra: String = "") -> String {
        """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: \(name), labels: \(labels)}
        spec:
          mac: "52:54:01:00:\(String(format: "%02x:%02x", index / 256, index % 256))"
          bmc: {address: "\(ilos.baseURL(index))", credentials: ilo, fingerprint: "\(ilos.certificate.fingerprint)"}
        \(extra)
        ---

        """
    }

    func stop() { images.stop() }
}

/// The worker pool at fleet scale: 200 emulated iLO 5s whose flashes take a second each,
/// 16 workers, a runner stopped in the middle and another resuming. Proved from the
/// fixture's request logs: one SimpleUpdate per BMC across the restart, and never more than
/// 16 flashes under way at once.
@Suite("BMC jobs at fleet scale", .ownThread, .requires(.python3, .openssl))
struct BMCJobScaleTests {
    static let machines = 200, workers = 16, updateSeconds = 1.0

    @Test("200 flashes, 16 at a time, across a restart: each BMC asked once")
    func twoHundredFlashes() async throws {
        let ilos = try ILOFleetFixture(count: Self.machines, updateSeconds: Self.updateSeconds, flashTo: "iLO 5=3.08 Nov 01 2026")
        defer { ilos.stop() }
        let fleetLab = try await FleetLab(ilos, prefix: "dploy-jobs-scale")
        defer { fleetLab.stop() }
        let lab = fleetLab.folder
        var specs = fleetLab.baseline() + """
            apiVersion: dploy.org/v1
            kind: Group
            metadata: {name: rack}
            spec:
              selector: {rack: r1}
              defaults: {firmware: gen10}
            ---

            """
        for index in 0..<Self.machines {
            specs += fleetLab.machine(index, name: "node-\(index)", labels: "{rack: r1}")
        }
        try lab.write("specs/fleet.yaml", specs, mode: 0o644)
        try lab.write("dploy.yaml", BMCLab.applyingConfig("bmc: {concurrency: 16, jobWorkers: \(Self.workers), firmwareTimeout: 5m}"), mode: 0o644)
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.file("dploy.yaml")).get(), configPath: lab.file("dploy.yaml"))
        try reconciler.makeCallbackKey()
        let store = try #require(try reconciler.openStore(creating: true))
        let desired = try reconciler.loadDesired()

        let clock = ContinuousClock()
        var start = clock.now
        let read = await reconciler.observeBMCs(desired.fleet)
        let observeTime = clock.now - start
        #expect(read.firmware.count == Self.machines, "\(read.observations.compactMap(\.error).prefix(3))")
        let result = try reconciler.plan(desired: desired, store: store, bmc: read)
        #expect(result.plan.actions.count { $0.kind == .updateFirmware } == Self.machines)

        start = clock.now
        let report = try reconciler.apply(result, fleet: desired.fleet, jobs: (store, nil))
        let applyTime = clock.now - start
        #expect(report.jobIDs.count == Self.machines)

        func runner() -> BMCJobRunner {
            var settings = BMCJobRunner.Settings(workers: Self.workers)
            settings.pollInterval = .milliseconds(250)
            settings.idlePoll = .milliseconds(100)
            return BMCJobRunner(store: store, settings: settings,
                                access: { BMCJobAccess(fleet: desired.fleet, secrets: reconciler.secretStore, baseDirectory: reconciler.bmcBaseDirectory) },
                                logger: { var quiet = Logger(label: "test.scale"); quiet.logLevel = .warning; return quiet }())
        }
        start = clock.now
        let first = runner()
        try first.start()
        #expect(try await eventually(120) { try store.bmcJobs(states: [.succeeded], machine: nil, limit: 1000).count >= Self.machines / 3 })
        first.stop()
        let midway = try store.bmcJobs(states: nil, machine: nil, limit: 1000)
        let inFlight = midway.filter { $0.state == .running }
        #expect(!inFlight.isEmpty && inFlight.allSatisfy { $0.tracking != nil }, "stopped with flashes under way")
        #expect(midway.contains { $0.state == .queued }, "and flashes not started yet")

        let second = runner()
        try second.start()
        #expect(second.waitUntilIdle(timeout: .seconds(300)))
        second.stop()
        let flashTime = clock.now - start
        let done = try store.bmcJobs(states: nil, machine: nil, limit: 1000)
        #expect(done.count == Self.machines && done.allSatisfy { $0.state == .succeeded }, "\(done.filter { $0.state != .succeeded }.prefix(3))")

        // From the iLOs' side: one SimpleUpdate each, and never more than `workers` flashing at once.
        let logs = try ilos.logs()
        var posts: [Double] = []
        for port in ilos.ports {
            let simpleUpdates = (logs[port] ?? []).filter {
                $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("simpleupdate") == true
            }
            #expect(simpleUpdates.count == 1, "port \(port) was asked \(simpleUpdates.count) times")
            posts += simpleUpdates.compactMap { $0["t"]?.double }
        }
        // Each flash is under way from its POST for updateSeconds; an end sorts before a start at the same time.
        var edges: [(time: Double, change: Int)] = []
        for post in posts {
            edges.append((post, 1))
            edges.append((post + Self.updateSeconds, -1))
        }
        edges.sort { a, b in a.time != b.time ? a.time < b.time : a.change < b.change }
        var flashing = 0, most = 0
        for edge in edges {
            flashing += edge.change
            most = max(most, flashing)
        }
        #expect(most <= Self.workers, "at most \(Self.workers) flashes at once, saw \(most)")
        #expect(most >= Self.workers / 2, "the pool did run flashes in parallel (\(most))")
        // Read again, every BMC reports the baseline's version: nothing left to plan, nothing noted as flashed-but-old.
        let reread = await reconciler.observeBMCs(desired.fleet)
        let converged = try reconciler.plan(desired: desired, store: store, bmc: reread)
        #expect(reread.firmware.values.allSatisfy { $0.versions["iLO 5"] == "3.08 Nov 01 2026" } && reread.firmware.count == Self.machines)
        #expect(!converged.plan.actions.contains { $0.kind == .updateFirmware })
        #expect(!converged.plan.notes.contains { $0.code == .firmwareFlashed || $0.code == .bmcJobActive })

        let ideal = Double(Self.machines) * Self.updateSeconds / Double(Self.workers)
        let stoppedDone = midway.count { $0.state == .succeeded }
        let summary = "BMC jobs at scale: \(Self.machines) BMCs, observe \(observeTime), queue \(Self.machines) jobs \(applyTime), "
        let flashes = "flashes \(flashTime) with \(Self.workers) workers (\(Self.updateSeconds) s each, ideal \(ideal) s), "
        print(summary + flashes + "most at once \(most), stopped with \(stoppedDone) done and \(inFlight.count) in flight")
    }

    @Test("a flash's timeout counts from its SimpleUpdate, not from the runner that follows it: a restart does not extend it")
    func timeoutSurvivesRestart() async throws {
        // One iLO whose flash would take an hour; the test's clock decides when the timeout passes.
        let ilo = try ILOFleetFixture(count: 2, updateSeconds: 3600, flashTo: "iLO 5=3.08 Nov 01 2026")
        defer { ilo.stop() }
        let lab = try TemporaryFolder(prefix: "dploy-jobs-timeout")
        try FileManager.default.createDirectory(atPath: lab.file("images"), withIntermediateDirectories: true)
        try lab.write("images/ilo5.fwpkg", "iLO 5 3.08\n", mode: 0o644)
        let images = try await FileServer(serving: lab.file("images"), log: lab.file("images.log"))
        defer { images.stop() }
        let target = FirmwareTarget(component: "iLO 5", installed: "2.96", version: "3.08", image: "http://127.0.0.1:\(images.port)/ilo5.fwpkg",
                                    sha256: String(try run("/usr/bin/sha256sum", [lab.file("images/ilo5.fwpkg")]).prefix(64)))
        try lab.write("ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        let secrets = lab.path
        let loaded = SpecLoader().load([SpecFile(path: "m.yaml", contents: Array("""
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: slow}
            spec:
              mac: "52:54:02:00:00:01"
              bmc: {address: "\(ilo.baseURL(0))", credentials: ilo, fingerprint: "\(ilo.certificate.fingerprint)"}
            """.utf8))])
        #expect(loaded.isValid, "\(loaded.diagnostics)")
        let fleet = loaded.fleet
        let store = try SQLiteStore(path: lab.file("dploy.db"))
        let action = Action.updateFirmware(machine: "slow", target, reason: Reason(.firmwareDrift, "iLO 5 2.96 → 3.08"))
        let planned = try #require(action.bmcJob(mac: nil, at: Date()))
        let job = try #require(try store.enqueueBMCJob(planned))
        let clock = ManualClock()
        func runner() -> BMCJobRunner {
            var settings = BMCJobRunner.Settings(workers: 1)
            settings.pollInterval = .milliseconds(50)
            settings.firmwareTimeout = .seconds(600)
            return BMCJobRunner(store: store, settings: settings,
                                access: { BMCJobAccess(fleet: fleet, secrets: SecretStore(folder: secrets), baseDirectory: secrets) },
                                logger: Logger(label: "test.timeout"), clock: clock.wallClock)
        }
        let first = runner()
        try first.start()
        #expect(try await eventually(30) { try store.bmcJobs(states: [.running], machine: nil, limit: 1).first?.status == "Writing" })
        first.stop()
        // 9 minutes pass while dploy is down: the new runner has one minute left, not ten.
        clock.advance(by: 540)
        let second = runner()
        try second.start()
        #expect(try await eventually(10) { try store.bmcJobs(states: [.running], machine: nil, limit: 1).first?.status == "Writing" })
        #expect(try store.bmcJobs(states: [.running], machine: nil, limit: 1).first?.id == job.id, "still followed, not failed")
        clock.advance(by: 61)
        #expect(second.waitUntilIdle(timeout: .seconds(30)))
        second.stop()
        let ended = try #require(try store.bmcJobs(states: nil, machine: nil, limit: 1).first)
        #expect(ended.state == .failed && ended.error?.contains("still Writing") == true && ended.error?.contains("after 10m (bmc.firmwareTimeout") == true,
                "\(ended)")
        let posts = try ilo.logs()[ilo.ports[0]]?.count { $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("simpleupdate") == true }
        #expect(posts == 1)
    }

    @Test("a flash over before dploy's first look, then a restart: iLO 5's Complete is confirmed by the inventory, an Error unlike the state before the POST fails the job; neither waits for the timeout")
    func flashOverBeforeTheFirstLook() async throws {
        // iLO 5 shows the last update's Complete until the next one gets going (the recorded
        // document says Complete): a 0.3 s flash goes from that Complete to its own unseen.
        let ilos = try ILOFleetFixture(count: 2, updateSeconds: 0.3, flashTo: "iLO 5=3.08 Nov 01 2026")
        defer { ilos.stop() }
        try ilos.failUpdates(1)
        let fleetLab = try await FleetLab(ilos, prefix: "dploy-jobs-unseen")
        defer { fleetLab.stop() }
        let lab = fleetLab.folder
        let loaded = SpecLoader().load([SpecFile(path: "m.yaml", contents: Array((fleetLab.machine(0, name: "quick") + fleetLab.machine(1, name: "failing")).utf8))])
        #expect(loaded.isValid, "\(loaded.diagnostics)")
        let fleet = loaded.fleet
        let store = try SQLiteStore(path: lab.file("dploy.db"))
        let target = FirmwareTarget(component: "iLO 5", installed: "2.96", version: "3.08", image: "http://127.0.0.1:\(fleetLab.images.port)/fw/ilo5_308.fwpkg",
                                    sha256: fleetLab.sha256)

        // What a runner stopped after its POST leaves: the job running, its tracking, and
        // `posted` (no look yet) or the Complete of a first look that came after the flash.
        for (index, machine, status) in [(0, "quick", "Complete"), (1, "failing", "posted")] {
            let action = Action.updateFirmware(machine: machine, target, reason: Reason(.firmwareDrift, "iLO 5 2.96 → 3.08"))
            let planned = try #require(action.bmcJob(mac: nil, at: Date()))
            _ = try #require(try store.enqueueBMCJob(planned))
            let job = try #require(try store.claimBMCJob(site: "default", at: Date()))
            let driver = BMCDriver(endpoint: try BMCEndpoint(address: ilos.baseURL(index), username: ilos.username, password: ilos.password,
                                                             tls: TLSPolicy(caFile: ilos.certificate.certificate)), options: quickOptions())
            let tracking = try driver.startFirmwareUpdate(imageURI: target.image)
            #expect(tracking.text == "hpe /redfish/v1/UpdateService/ from Complete", "the state before the POST is kept with the tracking")
            #expect(try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: Date(), tracking: tracking.text, status: status)))
        }
        try await Task.sleep(for: .seconds(1))

        let clock = ManualClock()  // the flash timeout never passes unless the test says so
        var settings = BMCJobRunner.Settings(workers: 2)
        settings.pollInterval = .milliseconds(50)
        settings.firmwareTimeout = .seconds(600)
        let runner = BMCJobRunner(store: store, settings: settings,
                                  access: { BMCJobAccess(fleet: fleet, secrets: SecretStore(folder: lab.file("secrets")), baseDirectory: lab.path) },
                                  logger: Logger(label: "test.unseen"), clock: clock.wallClock)
        try runner.start()
        #expect(runner.waitUntilIdle(timeout: .seconds(30)), "both jobs ended without the timeout")
        let jobs = Dictionary(try store.bmcJobs(states: nil, machine: nil, limit: 10).map { ($0.machine, $0) }) { first, _ in first }
        #expect(jobs["quick"]?.state == .succeeded, "\(String(describing: jobs["quick"]))")
        #expect(jobs["failing"]?.state == .failed && jobs["failing"]?.error?.contains("failed: Error") == true, "\(String(describing: jobs["failing"]))")

        // A flash queued again (a retry of one that worked) for a component already at the
        // baseline's version is not posted: the inventory's confirmation of an unseen end
        // above rests on that.
        let again = Action.updateFirmware(machine: "quick", target, reason: Reason(.firmwareDrift, "iLO 5 2.96 → 3.08"))
        let queuedAgain = try #require(again.bmcJob(mac: nil, at: Date()))
        let retried = try #require(try store.enqueueBMCJob(queuedAgain))
        #expect(try await eventually(30) { try store.bmcJobs(states: nil, machine: "quick", limit: 10).first { $0.id == retried.id }?.state == .succeeded })
        runner.stop()
        let logs = try ilos.logs()
        for port in ilos.ports {
            #expect(logs[port]?.count { $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("simpleupdate") == true } == 1,
                    "never posted again")
        }
    }
}
