import DployBMC
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Logging
import Testing

/// Power, rediscover and imaging tasks run by the controller against sushy-tools' BMCs.
@Suite("Tasks through BMCs, against sushy-tools", .ownThread, .requires(.sushyEmulator, .openssl, .curl))
struct TaskBMCTests {
    static func lab(_ bmc: SushyEmulator, machines: Int, tasks: String, extraConfig: String = "") throws -> BMCLab {
        let specs = BMCLab.rackGroup() + (0..<machines).map {
            BMCLab.machine("node-\($0)", mac: "52:54:00:00:00:1\($0)", address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[$0])",
                           rack: true)
        }.joined()
        let lab = try BMCLab(bmc, specs: specs)
        try lab.folder.write("specs/tasks.yaml", tasks, mode: 0o644)
        try lab.trustCA(of: bmc)
        try lab.folder.write("dploy.yaml", BMCLab.applyingConfig(extraConfig), mode: 0o644)
        return lab
    }

    static func mac(_ index: Int) -> MACAddress { MACAddress("52:54:00:00:00:1\(index)")! }

    /// What imaging tasks boot: they never get that far here, but need it configured.
    static let imaging = "imaging: {kernel: \"http://127.0.0.1:8080/imaging/vmlinuz\", initrd: \"http://127.0.0.1:8080/imaging/initrd.img\"}"

    /// Rediscovery needs a discovery environment to boot the forgotten machine into.
    static let discovery = "discovery: {kernel: \"http://127.0.0.1:8080/discovery/vmlinuz\", initrd: \"http://127.0.0.1:8080/discovery/initrd.img\"}"

    @Test("the loop powers a rack on and forgets a machine, once; an edit runs the power task again")
    func powerAndRediscover() async throws {
        let bmc = try await SushyEmulator(systems: 2)
        let tasks = """
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: power-on-r1}
            spec:
              targets: {selector: {rack: r1}}
              power: "on"
              concurrency: 2
            ---
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: forget-node-1}
            spec:
              targets: {machines: [node-1]}
              rediscover: true
            """
        let lab = try Self.lab(bmc, machines: 2, tasks: tasks, extraConfig: Self.discovery)
        try await bmc.ready()
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config, keepingCaches: true)
        let store = try #require(try reconciler.openStore(creating: true))
        try store.recordHardware(Self.mac(1), Hardware(vendor: "QEMU", cpus: 2), at: Date())
        try store.installStarted(Self.mac(1), generation: 1, at: Date())
        try store.installFinished(Self.mac(1), generation: 1, at: Date())
        let metrics = ControllerMetrics()
        let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: metrics, logger: Logger(label: "test"))

        await loop.runOnce(trigger: "start")
        #expect(loop.status.lastRun?.result == .converged, "\(loop.status.lastError ?? "")")
        #expect(loop.status.lastRun?.message.hasSuffix("task runs: 3 succeeded") == true, "\(loop.status.lastRun?.message ?? "")")
        for system in 0..<2 {
            let client = RedfishClient(endpoint: try bmc.endpoint(system: system), options: quickOptions())
            try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))
        }
        let power = try store.taskRuns(task: "power-on-r1")
        // Both at once (concurrency 2): either may have started first.
        #expect(power.map(\.key.machine).sorted() == ["node-0", "node-1"] && power.allSatisfy { $0.state == .succeeded })
        #expect(try store.taskRuns(task: "forget-node-1").map(\.state) == [.succeeded])
        #expect(metrics.exposition().contains("dploy_task_runs_total{state=\"succeeded\"} 3"))
        let forgotten = try #require(try store.machine(Self.mac(1)))
        #expect(forgotten.state == .rediscovering && forgotten.hardware == nil && forgotten.installedGeneration == nil)

        // Run once: the next run has nothing to do, even with node-0 switched off meanwhile.
        let node0 = RedfishClient(endpoint: try bmc.endpoint(system: 0), options: quickOptions())
        _ = try await node0.setPower(.off)
        try await node0.waitForPower(.off, timeout: .seconds(40), interval: .milliseconds(250))
        await loop.runOnce(trigger: "interval")
        #expect(loop.status.lastRun?.result == .unchanged, "\(loop.status.lastRun?.message ?? "")")
        #expect(try store.taskRuns(task: nil).count == 3)
        #expect(try await node0.system().power == .off)

        // An edit is a new revision: it runs on both targets again.
        try lab.folder.write("specs/tasks.yaml", tasks.replacingOccurrences(of: "concurrency: 2", with: "concurrency: 1"), mode: 0o644)
        await loop.runOnce(trigger: "webhook")
        try await node0.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))
        let again = try store.taskRuns(task: "power-on-r1")
        #expect(again.count == 4 && Set(again.map(\.key.revision)).count == 2 && again.allSatisfy { $0.state == .succeeded })
    }

    @Test("a target without a BMC fails with a clear error; stopOnFailure skips the rest; dploy tasks shows both")
    func failureStops() async throws {
        let bmc = try await SushyEmulator(systems: 1)
        let lab = try Self.lab(bmc, machines: 1, tasks: """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: a-no-bmc}
            spec: {mac: "52:54:00:00:00:99"}
            ---
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: cycle}
            spec:
              targets: {machines: [a-no-bmc, node-0]}
              power: cycle
              stopOnFailure: true
            """)
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config)
        let desired = try reconciler.loadDesired()
        let plan = try reconciler.plan(desired: desired).plan
        #expect(plan.tasks.map(\.targets) == [["a-no-bmc", "node-0"]])
        let reports = try reconciler.runTasks(plan, fleet: desired.fleet)
        #expect(reports.map(\.line) == [
            "task cycle @\(plan.tasks[0].revision.prefix(8)) on a-no-bmc: failed ((none): machine 'a-no-bmc' has no 'spec.bmc')",
            "task cycle @\(plan.tasks[0].revision.prefix(8)) on node-0: skipped (an earlier target failed and the task says stopOnFailure)",
        ])
        let store = try #require(try reconciler.openStore(creating: false))
        let rows = TaskOverview.rows(fleet: desired.fleet, runs: try store.taskRuns(task: nil))
        #expect(rows.first?.counts == "failed 1, skipped 1")
        #expect(try reconciler.plan(desired: desired).plan.tasks.isEmpty, "failed and skipped runs are not run again")
    }

    @Test("an imaging task boots the machine once from PXE and cycles it; without a callback it fails at its deadline")
    func imagingStartAndDeadline() async throws {
        let bmc = try await SushyEmulator(systems: 1)
        let lab = try Self.lab(bmc, machines: 1, tasks: """
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: restore-node-0}
            spec:
              targets: {machines: [node-0]}
              imageRestore: {url: "http://127.0.0.1:9/node.img", disk: /dev/sda}
              timeout: 2s
            """, extraConfig: Self.imaging)
        try await bmc.ready()
        // The deadline passes when the test moves this clock, not after a sleep.
        let clock = ManualClock()
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config,
                                    clock: clock.wallClock)
        let desired = try reconciler.loadDesired()
        let reports = try reconciler.runTasks(try reconciler.plan(desired: desired).plan, fleet: desired.fleet)
        #expect(reports.map(\.state) == [.running])
        let store = try #require(try reconciler.openStore(creating: false))
        let running = try #require(try store.taskRuns(task: "restore-node-0").first)
        #expect(running.state == .running)
        #expect(try store.runningTaskRun(mac: Self.mac(0), actions: [.imageRestore], at: running.startedAt!)?.key.task == "restore-node-0")
        let client = RedfishClient(endpoint: try bmc.endpoint(system: 0), options: quickOptions())
        #expect(try await client.system().bootOverrideTarget == "Pxe")
        try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))

        // Just before the deadline the run still waits; just after, it has failed.
        clock.advance(by: 1.9)
        #expect(try reconciler.runTasks(try reconciler.plan(desired: desired).plan, fleet: desired.fleet).isEmpty)
        #expect(try store.taskRuns(task: "restore-node-0").first?.state == .running)
        clock.advance(by: 0.2)
        let later = try reconciler.runTasks(try reconciler.plan(desired: desired).plan, fleet: desired.fleet)
        #expect(later.map(\.line) == ["task restore-node-0 @\(try store.taskRuns(task: nil)[0].key.revision.prefix(8)) on node-0: failed (timed out: no result within 2 s)"])
    }

    @Test("imaging runs count against concurrency while they go; a machine that is imaging runs nothing else until it is done")
    func imagingConcurrencyAndBusyMachines() async throws {
        let bmc = try await SushyEmulator(systems: 2)
        let lab = try Self.lab(bmc, machines: 2, tasks: """
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: restore-rack}
            spec:
              targets: {selector: {rack: r1}}
              imageRestore: {url: "http://127.0.0.1:9/node.img", disk: /dev/sda}
              concurrency: 1
            ---
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: wake-node-0}
            spec:
              targets: {machines: [node-0]}
              power: "on"
            """, extraConfig: Self.imaging)
        try await bmc.ready()
        let reconciler = Reconciler(config: try ControllerConfig.load(path: lab.config).get(), configPath: lab.config)
        let desired = try reconciler.loadDesired()
        func runPending() throws -> [TaskRunReport] {
            try reconciler.runTasks(try reconciler.plan(desired: desired).plan, fleet: desired.fleet)
        }
        let first = try runPending()
        #expect(first.map(\.key.task) == ["restore-rack", "wake-node-0"] && first.map(\.key.machine) == ["node-0", "node-0"])
        #expect(first.map(\.state) == [.running, .pending], "wake-node-0 waits while node-0 images; node-1 waits for a slot")
        #expect(first.last?.message == "waits: node-0 is imaging for task 'restore-rack'")
        let store = try #require(try reconciler.openStore(creating: false))
        #expect(try store.taskRuns(task: "restore-rack").map(\.key.machine) == ["node-0"])
        #expect(try store.taskRuns(task: "wake-node-0").isEmpty, "a waiting run has no row: it is still pending")

        #expect(try runPending().map(\.state) == [.pending], "still one imaging run going: no second start, no power task")

        // node-0's imaging environment reports done, as /v1/imaging/MAC/done would record it.
        let key = try #require(try store.taskRuns(task: "restore-rack").first?.key)
        let writable = try #require(try reconciler.openStore(creating: true))
        #expect(try writable.finishTaskRun(key, TaskRunOutcome(state: .succeeded, output: "restored"), at: Date()))
        let third = try runPending()
        #expect(third.map(\.key.machine) == ["node-1", "node-0"] && third.map(\.state) == [.running, .succeeded])
    }
}
