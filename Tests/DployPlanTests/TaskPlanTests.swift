import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Which task runs a plan owes, from the example lab's tasks: once per target and revision.
@Suite("Task plans", .ownThread)
struct TaskPlanTests {
    static let motd = "rotate-motd-2026-11"

    func plan(_ lab: LabCopy, recorded: [TaskRunKey: TaskRunState] = [:]) throws -> Plan {
        let reconciler = try lab.reconciler()
        let desired = try reconciler.loadDesired()
        var observed = try reconciler.observe()
        observed.taskRuns = recorded
        return try Planner.plan(desired: desired, observed: observed, settings: try reconciler.settings).plan
    }

    @Test("a new task is pending on every target, by group or by name; dploy plan lists it with its action")
    func newTasks() throws {
        let lab = try LabCopy(tasks: true)
        let plan = try plan(lab)
        #expect(plan.tasks.map(\.task) == ["capture-db-01-2026-11", Self.motd])
        let motd = try #require(plan.tasks.last)
        #expect(motd.targets == ["web-01", "web-02", "web-03", "web-04"])
        #expect(motd.action == .ssh && motd.reason == Reason(.newTask, "new task: runs once on each target"))
        #expect(plan.tasks.first?.targets == ["db-01"])
        #expect(plan.taskRuns == 5)
        let text = plan.text(color: false)
        #expect(text.contains("  * \(Self.motd) @\(motd.revision)  new task: runs once on each target\n"
                              + "      ssh as root: printf 'lab.example.net - managed by dploy - maintenance window Tue 06:00 UTC\\n' > /etc/motd\n"
                              + "      on 4: web-01, web-02, web-03, web-04\n"))
        #expect(text.hasSuffix("5 task runs pending.\n"))
    }

    @Test("recorded runs are not pending, whatever their state; a new target of the same revision is")
    func recordedRuns() throws {
        let lab = try LabCopy(tasks: true)
        let revision = try #require(try plan(lab).tasks.last?.revision)
        var recorded: [TaskRunKey: TaskRunState] = [:]
        for (machine, state) in [("web-01", TaskRunState.succeeded), ("web-02", .failed), ("web-03", .running), ("web-04", .skipped)] {
            recorded[TaskRunKey(task: Self.motd, revision: revision, machine: machine)] = state
        }
        #expect(try plan(lab, recorded: recorded).tasks.map(\.task) == ["capture-db-01-2026-11"])

        // web-05 joins the web group: only it is owed the run.
        try lab.write("machines/web-05.yaml", """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: web-05, labels: {role: web, rack: r2}}
            spec: {mac: "94:18:82:3a:5c:99", ip: 198.18.0.29}
            """)
        let motd = try #require(try plan(lab, recorded: recorded).tasks.last)
        #expect(motd.task == Self.motd && motd.targets == ["web-05"] && motd.reason == Reason(.newTargets, "new targets since it ran"))
    }

    @Test("an edit to the spec is a new revision that runs everywhere again; comments and moving the file are not")
    func revisions() throws {
        let lab = try LabCopy(tasks: true)
        let before = try #require(try plan(lab).tasks.last)
        let recorded = Dictionary(uniqueKeysWithValues: before.targets.map {
            (TaskRunKey(task: Self.motd, revision: before.revision, machine: $0), TaskRunState.succeeded)
        })
        let original = try lab.read("tasks/rotate-motd-2026-11.yaml")
        try FileManager.default.removeItem(atPath: lab.path("tasks/rotate-motd-2026-11.yaml"))
        try lab.write("elsewhere/motd.yaml", "# moved, with a new comment\n" + original)
        #expect(try plan(lab, recorded: recorded).tasks.map(\.task) == ["capture-db-01-2026-11"])

        try lab.write("elsewhere/motd.yaml", original.replacingOccurrences(of: "Tue 06:00 UTC", with: "Wed 06:00 UTC"))
        let after = try #require(try plan(lab, recorded: recorded).tasks.last)
        #expect(after.revision != before.revision)
        #expect(after.targets == before.targets && after.reason == Reason(.taskEdited, "edited since it last ran: runs once more on each target"))
    }

    @Test("a task whose groups match no machine is a note, not a run")
    func noTargets() throws {
        let lab = try LabCopy(tasks: true)
        try lab.write("tasks/empty.yaml", """
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: nobody}
            spec:
              targets: {selector: {role: mainframe}}
              power: cycle
            """)
        let plan = try plan(lab)
        #expect(!plan.tasks.contains { $0.task == "nobody" })
        #expect(plan.notes.contains(Reason(.taskTargetsNothing, "task 'nobody' targets no machine: its groups and selector match none")))
    }

    @Test("stopOnFailure holds across runs: a target that joins after a failure is skipped, not run")
    func stopOnFailureAcrossRuns() throws {
        let lab = try LabCopy(config: LabCopy.config())
        // Machines without a BMC: their power task fails at once, and nothing leaves this host.
        func machine(_ name: String, _ octet: Int) -> String {
            """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: \(name), labels: {role: scratch}}
            spec: {mac: "02:00:00:00:00:\(String(format: "%02x", octet))", ip: 198.18.0.\(200 + octet)}

            """
        }
        try lab.write("scratch/x-1.yaml", machine("x-1", 1))
        try lab.write("scratch/task.yaml", """
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: cycle-scratch}
            spec:
              targets: {selector: {role: scratch}}
              power: cycle
              stopOnFailure: true
            """)
        let reconciler = try lab.reconciler()
        func runPending() throws -> [TaskRunReport] {
            let desired = try reconciler.loadDesired()
            return try reconciler.runTasks(try reconciler.plan(desired: desired).plan, fleet: desired.fleet)
        }
        #expect(try runPending().map(\.state) == [.failed])

        try lab.write("scratch/x-2.yaml", machine("x-2", 2))
        let later = try runPending()
        #expect(later.map(\.key.machine) == ["x-2"] && later.map(\.state) == [.skipped])
        #expect(later.first?.message == "an earlier target failed and the task says stopOnFailure")
    }

    @Test("a machine in its imaging environment gets no BMC step: power drift waits until the run ends")
    func imagingHoldsBMCSteps() throws {
        let lab = try LabCopy()
        let reconciler = try lab.reconciler()
        let desired = try reconciler.loadDesired()
        var observed = try reconciler.observe()
        let web01 = try #require(MACAddress("94:18:82:3a:5c:10"))
        observed.power[web01] = .off
        let settings = try reconciler.settings
        let drift = try Planner.plan(desired: desired, observed: observed, settings: settings).plan
        #expect(drift.machines.first { $0.machine == "web-01" }?.actions.contains { $0.kind == .power } == true)

        observed.imaging[web01] = "restore-web-01"
        let plan = try Planner.plan(desired: desired, observed: observed, settings: settings).plan
        let held = try #require(plan.machines.first { $0.machine == "web-01" })
        #expect(!held.actions.contains { $0.needsBMC })
        #expect(held.reasons.contains(Reason(.imagingInProgress, "imaging for task 'restore-web-01': its BMC steps wait until the run ends")))
    }
}
