import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// The rollout rules on the example lab's Gen10 baseline, planned without any BMC: what an
/// unread inventory, a failure and a resume do to the machines that may start.
@Suite("Firmware rollouts in the plan", .ownThread)
struct RolloutPlanTests {
    struct Setup {
        var copy: LabCopy
        var reconciler: Reconciler
        var desired: DesiredState
        var observed: ObservedState
        /// The baseline's machines with a BMC, by name.
        var members: [(name: String, mac: MACAddress)]
    }

    func setup(_ policy: RolloutPolicy) throws -> Setup {
        let copy = try LabCopy(config: LabCopy.config())
        let reconciler = try copy.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var desired = try reconciler.loadDesired()
        let index = try #require(desired.fleet.firmwareBaselines.firstIndex { $0.name == "gen10-2026-10" })
        desired.fleet.firmwareBaselines[index].rollout = policy
        let resolver = DefaultsResolver(groups: desired.fleet.groups)
        let members = desired.fleet.machines.filter {
            let settings = resolver.resolve($0).settings
            return settings.firmware == "gen10-2026-10" && settings.bmc?.address != nil
        }.map { ($0.name, $0.mac.value) }.sorted { $0.0 < $1.0 }
        var observed = try reconciler.observe()
        for member in members {
            observed.firmware[member.1] = ObservedFirmware(model: "ProLiant DL360 Gen10", versions: ["iLO 5": "2.96 Aug 17 2023"])
        }
        return Setup(copy: copy, reconciler: reconciler, desired: desired, observed: observed, members: members)
    }

    func flashing(_ result: PlanResult) -> [String] {
        result.plan.machines.filter { $0.actions.contains { $0.kind == .updateFirmware } }.map(\.machine)
    }

    @Test("one canary starts alone; an unread inventory holds its phase; a failure halts until a resume")
    func canaryUnreadFailureResume() throws {
        var lab = try setup(RolloutPolicy(canaries: 1, waves: [100], maxFailures: 0))
        defer { withExtendedLifetime(lab.copy) {} }
        try #require(lab.members.count >= 2, "the lab has Gen10 machines with BMCs")
        let canary = lab.members[0], others = lab.members.dropFirst().map(\.name)
        let first = try Planner.plan(desired: lab.desired, observed: lab.observed, settings: lab.reconciler.settings)
        #expect(flashing(first) == [canary.name])
        #expect(first.plan.notes.contains(Reason(.rolloutPhase, "rollout gen10-2026-10, canaries: \(canary.name): under way: 0 of 1 done; starting now: \(canary.name)")))
        #expect(first.plan.notes.contains(Reason(.rolloutPhase, "rollout gen10-2026-10, wave 1 (100%): \(others.joined(separator: ", ")): after canaries finish and report the baseline's versions")))

        // Its BMC not read: whether it is done is not known, so nothing else starts.
        var unread = lab.observed
        unread.firmware[canary.mac] = nil
        let held = try Planner.plan(desired: lab.desired, observed: unread, settings: lab.reconciler.settings)
        #expect(flashing(held).isEmpty)
        #expect(held.plan.notes.contains { $0.code == .rolloutPhase && $0.message.hasSuffix("BMC inventory not read (the phase waits for a reading; a read that failed is tried again): \(canary.name)") })

        // The canary's flash failed: one failure, more than maxFailures 0: halted.
        let failedAt = Date(timeIntervalSince1970: 1_795_000_000)
        lab.observed.bmcJobs[canary.name] = [BMCJob(id: 9, machine: canary.name, mac: canary.mac, kind: .firmware, step: "firmware iLO 5 3.08",
                                                    payload: "{}", state: .failed, createdAt: failedAt, finishedAt: failedAt, error: "Error")]
        let halted = try Planner.plan(desired: lab.desired, observed: lab.observed, settings: lab.reconciler.settings)
        #expect(flashing(halted).isEmpty)
        #expect(halted.plan.notes.contains { $0.code == .rolloutHalted && $0.message.contains("\(canary.name) (job 9 failed: Error)") })

        // Resumed after it: the failure no longer counts, the canaries' phase is over, the wave starts.
        lab.observed.rolloutResumes["gen10-2026-10"] = failedAt.addingTimeInterval(60)
        let resumed = try Planner.plan(desired: lab.desired, observed: lab.observed, settings: lab.reconciler.settings)
        #expect(flashing(resumed) == others)
        #expect(!resumed.plan.notes.contains { $0.code == .rolloutHalted })
        #expect(resumed.plan.notes.contains(Reason(.rolloutPhase, "rollout gen10-2026-10, canaries: \(canary.name): done, 1 failed")))
    }

    @Test("maxParallel counts the flashes in flight; a window with no time known starts nothing")
    func parallelAndWindow() throws {
        var lab = try setup(RolloutPolicy(waves: [100], maxParallel: 1))
        defer { withExtendedLifetime(lab.copy) {} }
        let first = try Planner.plan(desired: lab.desired, observed: lab.observed, settings: lab.reconciler.settings)
        #expect(flashing(first) == [lab.members[0].name])
        lab.observed.bmcJobs[lab.members[0].name] = [BMCJob(id: 3, machine: lab.members[0].name, mac: nil, kind: .firmware,
                                                            step: "firmware iLO 5 3.08", payload: "{}", state: .running, createdAt: Date())]
        let busy = try Planner.plan(desired: lab.desired, observed: lab.observed, settings: lab.reconciler.settings)
        #expect(flashing(busy).isEmpty, "one in flight fills maxParallel 1")

        var windowed = try setup(RolloutPolicy(window: RolloutPolicy.Window(days: Set(RolloutPolicy.Window.Day.allCases), from: 0, to: 1440)))
        defer { withExtendedLifetime(windowed.copy) {} }
        windowed.observed.now = nil
        #expect(flashing(try Planner.plan(desired: windowed.desired, observed: windowed.observed, settings: windowed.reconciler.settings)).isEmpty)
        windowed.observed.now = Date()
        #expect(!flashing(try Planner.plan(desired: windowed.desired, observed: windowed.observed, settings: windowed.reconciler.settings)).isEmpty)
    }
}
