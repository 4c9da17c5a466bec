import DployApply
import DployController
import DployInventory
import DployRender
@testable import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Records the steps the applier hands to the job queue instead of running them.
final class RecordingJobQueue: BMCJobQueue {
    var queued: [String] = []
    func enqueue(_ action: Action) throws -> Int64? {
        queued.append("\(action.machine ?? "") \(action.jobStep?.step ?? "?")")
        return Int64(queued.count)
    }
}

/// How the planner and the applier treat BMC jobs, on the example lab.
@Suite("BMC jobs in the plan and the apply", .ownThread)
struct BMCJobPlanTests {
    let web01 = MACAddress("94:18:82:3a:5c:10")!
    let web02 = MACAddress("94:18:82:3a:5c:2e")!

    func lab() throws -> (LabCopy, Reconciler, ObservedState) {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        return (lab, reconciler, try reconciler.observe())
    }

    func job(_ machine: String, _ step: String, _ state: BMCJobState, id: Int64 = 7, percent: Int? = nil) -> BMCJob {
        BMCJob(id: id, machine: machine, mac: nil, kind: step == "bios" ? .bios : .firmware, step: step, payload: "{}", state: state,
               createdAt: Date(), percent: percent)
    }

    @Test("a machine with a running job keeps its reinstall's boot and power steps for later, and the plan says why")
    func powerWaitsForJob() throws {
        let (copy, reconciler, base) = try lab()
        defer { withExtendedLifetime(copy) {} }
        var observed = base
        observed.installedGenerations[web02] = 0
        observed.bmcJobs["web-02"] = [job("web-02", "firmware System ROM U32 v2.90", .running, percent: 40)]
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        let web = result.plan.machines.first { $0.machine == "web-02" }
        #expect(web?.actions.contains { $0.kind == .bootOnceFromNetwork || $0.kind == .power } != true)
        #expect(result.plan.notes.contains(Reason(.bmcJobActive, "web-02: firmware System ROM U32 v2.90: in progress, 40 % (job 7)")))
        #expect(result.plan.notes.contains {
            $0.code == .waitsForBMCJob && $0.message == "web-02: its boot and power steps wait for job 7 (firmware System ROM U32 v2.90, in progress, 40 %)"
        })
        #expect(result.plan.text(color: false).contains("note: web-02: firmware System ROM U32 v2.90: in progress, 40 % (job 7)"))

        // Once the job is over, the next plan has them again.
        observed.bmcJobs["web-02"] = [job("web-02", "firmware System ROM U32 v2.90", .succeeded)]
        let after = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        #expect(after.plan.machines.first { $0.machine == "web-02" }?.actions.contains { $0.kind == .bootOnceFromNetwork } == true)
    }

    @Test("a reinstall is started once per generation: once its boot-once and cycle were sent, the next plans wait for the machine to boot")
    func reinstallStartedOnce() throws {
        let (copy, reconciler, base) = try lab()
        defer { withExtendedLifetime(copy) {} }
        var observed = base
        observed.installedGenerations[web02] = 0
        let desired = try reconciler.loadDesired()
        func bmcSteps(_ observed: ObservedState) throws -> (steps: [String], notes: [Reason]) {
            let result = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
            let steps = result.plan.machines.first { $0.machine == "web-02" }?.actions.compactMap { $0.jobStep?.step } ?? []
            return (steps, result.plan.notes)
        }
        let first = try bmcSteps(observed)
        #expect(first.steps == ["start the reinstall of generation 1: boot once from network", "start the reinstall of generation 1: power cycle"])

        // Both sent: a run a minute later (the machine still in its POST) resets nothing.
        func done(_ step: String, _ state: BMCJobState, id: Int64) -> BMCJob {
            BMCJob(id: id, machine: "web-02", mac: web02, kind: step.hasSuffix("cycle") ? .power : .boot, step: step, payload: "{}",
                   state: state, createdAt: Date(), finishedAt: Date())
        }
        observed.bmcJobs["web-02"] = [done(first.steps[0], .succeeded, id: 8), done(first.steps[1], .succeeded, id: 9)]
        let later = try bmcSteps(observed)
        #expect(later.steps.isEmpty)
        #expect(later.notes.contains { $0.code == .reinstallStarted && $0.message.hasPrefix("web-02: start the reinstall of generation 1: power cycle: done by job 9; waiting for the machine to network-boot its installer") })

        // Started, it is powered as it is until it installs: its drift does not stop the POST.
        // (web-02's group wants it on: read off, mid-POST, it would be powered on again.)
        var drifting = observed
        drifting.power[web02] = .off
        let held = try Planner.plan(desired: desired, observed: drifting, settings: reconciler.settings)
        let web02Plan = held.plan.machines.first { $0.machine == "web-02" }
        #expect(web02Plan?.actions.contains { $0.kind == .power } != true, "no power step while the reinstall boots: \(String(describing: web02Plan))")
        var notStarted = drifting
        notStarted.bmcJobs["web-02"] = nil
        let before = try Planner.plan(desired: desired, observed: notStarted, settings: reconciler.settings)
        #expect(before.plan.machines.first { $0.machine == "web-02" }?.actions.contains { $0.kind == .power } == true, "a power step is planned otherwise")

        // The cycle failed: not sent again on its own; the note says how.
        observed.bmcJobs["web-02"] = [done(first.steps[0], .succeeded, id: 8), done(first.steps[1], .failed, id: 9)]
        #expect(try bmcSteps(observed).notes.contains { $0.code == .bmcJobFailed && $0.message.contains("`dploy jobs retry 9`") })
        #expect(try bmcSteps(observed).steps.isEmpty)

        // Skipped (an earlier step of the machine failed): never sent, so planned again.
        observed.bmcJobs["web-02"] = [done(first.steps[0], .skipped, id: 8), done(first.steps[1], .skipped, id: 9)]
        #expect(try bmcSteps(observed).steps == first.steps)
    }

    @Test("firmware is not flashed under an installer, nor again after its job failed; apply queues it and holds back later steps")
    func firmwareAndJobs() throws {
        let (copy, reconciler, base) = try lab()
        defer { withExtendedLifetime(copy) {} }
        var observed = base
        observed.firmware[web01] = ObservedFirmware(model: "ProLiant DL360 Gen10",
                                                    versions: ["iLO 5": "2.96 Aug 17 2023", "System ROM": "U32 v2.80 (01/11/2024)"])
        observed.power[web01] = .off
        let desired = try reconciler.loadDesired()
        let planned = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
        let steps = try #require(planned.plan.machines.first { $0.machine == "web-01" }).actions.filter(\.needsBMC).map(\.kind)
        #expect(steps == [.power, .updateFirmware, .updateFirmware])

        // The applier queues every BMC step, in plan order (power first), and sends none itself.
        let bmc = RecordingBMC(), queue = RecordingJobQueue()
        let report = try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil).apply(planned, bmc: bmc, jobs: queue)
        #expect(bmc.calls.isEmpty)
        #expect(queue.queued == ["web-01 power on", "web-01 firmware System ROM U32 v2.90", "web-01 firmware iLO 5 3.08"])
        #expect(report.jobIDs == [1, 2, 3] && report.deferred.isEmpty)

        // While it installs: no flash.
        var installing = observed
        installing.installing[web01] = 1
        let underInstaller = try Planner.plan(desired: desired, observed: installing, settings: reconciler.settings)
        #expect(underInstaller.plan.machines.first { $0.machine == "web-01" }?.actions.contains { $0.kind == .updateFirmware } != true)
        #expect(underInstaller.plan.machines.first { $0.machine == "web-01" }?.reasons.contains { $0.code == .installInProgress } == true)

        // Its job failed: not flashed again, and the note says how to retry; a BIOS job that failed is planned again.
        observed.bmcJobs["web-01"] = [job("web-01", "firmware iLO 5 3.08", .failed)]
        let failed = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
        func jobSteps(_ result: PlanResult) -> [String] {
            result.plan.machines.first { $0.machine == "web-01" }?.actions.compactMap { $0.jobStep?.step } ?? []
        }
        #expect(jobSteps(failed) == ["power on", "firmware System ROM U32 v2.90"], "the other component is still flashed")
        #expect(failed.plan.notes.contains { $0.code == .bmcJobFailed && $0.message.contains("`dploy jobs retry 7`") })
        // A new baseline version is a new step: flashed.
        observed.bmcJobs["web-01"] = [job("web-01", "firmware iLO 5 3.06", .failed)]
        let newVersion = try Planner.plan(desired: desired, observed: observed, settings: reconciler.settings)
        #expect(jobSteps(newVersion) == ["power on", "firmware System ROM U32 v2.90", "firmware iLO 5 3.08"])
    }

    @Test("within one apply, a machine's reinstall steps are queued after its BIOS job, in order, and none is sent by the apply")
    func powerAfterJobWaits() throws {
        let changes = [BIOSChange(name: "WorkloadProfile", current: .string("GeneralPowerEfficientCompute"), desired: .string("Virtualization-MaxPerformance"))]
        let start = Reason(.generationBehind, "start the reinstall of generation 2")
        let plan = Plan(source: "test", revision: nil, fingerprint: "", machines: [MachinePlan(
            machine: "web-02", change: .change, reasons: [start],
            actions: [.setBIOSAttributes(machine: "web-02", changes, ifMatch: "W/\"1\"", reason: Reason(.biosDrift, "bios")),
                      .bootOnceFromNetwork(machine: "web-02", reason: start), .power(machine: "web-02", .cycle, reason: start)])],
            shared: [], notes: [])
        let (copy, reconciler, _) = try lab()
        defer { withExtendedLifetime(copy) {} }
        let bmc = RecordingBMC(), queue = RecordingJobQueue()
        let report = try Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil)
            .apply(PlanResult(plan: plan, desiredFiles: FileContents()), bmc: bmc, jobs: queue)
        // The store runs a machine's jobs in id order, and a failed one skips the rest: the
        // BIOS settings are pending before the cycle, and no cycle follows a failed write.
        #expect(queue.queued == ["web-02 bios", "web-02 start the reinstall of generation 2: boot once from network",
                                 "web-02 start the reinstall of generation 2: power cycle"])
        #expect(bmc.calls.isEmpty, "the apply itself sends nothing to the BMC")
        #expect(report.deferred.isEmpty)
    }

    @Test("a step's job carries the action itself, and reads back as the same action")
    func payloadRoundTrip() throws {
        let target = FirmwareTarget(component: "System ROM", installed: "U32 v2.80", version: "U32 v2.90",
                                    image: "http://198.18.0.1/fw/U32_2.90.fwpkg", sha256: String(repeating: "a", count: 64))
        let action = Action.updateFirmware(machine: "web-01", target, reason: Reason(.firmwareDrift, "System ROM U32 v2.80 → U32 v2.90"))
        let job = try #require(action.bmcJob(mac: web01, at: Date()))
        #expect(job.kind == .firmware && job.step == "firmware System ROM U32 v2.90" && job.machine == "web-01")
        #expect(try Action(jobPayload: job.payload) == action)
        let power = Action.power(machine: "web-01", .on, reason: Reason(.powerDrift, "power drift"))
        #expect(power.bmcJob(mac: nil, at: Date())?.step == "power on")
        #expect(try Action(jobPayload: try #require(power.bmcJob(mac: nil, at: Date())).payload) == power)
        #expect(Action.writeFile(OutputPath(.http, "ipxe/x.ipxe"), machine: "web-01", reason: Reason(.fileMissing, "new")).bmcJob(mac: nil, at: Date()) == nil,
                "files are the apply's own")
    }
}
