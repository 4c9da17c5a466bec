@testable import DployApply
@testable import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// What a quiet run reuses: the last plan that changed nothing, and the condition counts,
/// each only while every input it was made from is the same.
@Suite("a quiet run reuses only what its inputs still give", .ownThread, .requires(.git))
struct QuietRunTests {
    @Test("the kept plan comes back for the same inputs, and for none that differ")
    func quietPlan() throws {
        let site = try DaemonLoopTests.Site()
        let desired = try site.reconciler.loadDesired()
        let observed = try site.reconciler.observe(store: nil, bmc: nil)
        let settings = try site.reconciler.settings
        let plan = try site.reconciler.plan(desired: desired, observed: observed, fingerprint: false).plan
        let kept = QuietPlan(inputs: .init(desired: desired, observed: observed, settings: settings, filesVersion: 1), plan: plan)
        #expect(kept.plan(for: .init(desired: desired, observed: observed, settings: settings, filesVersion: 1)) == plan)

        var installed = observed
        installed.installedGenerations[MACAddress("94:18:82:3a:5c:10")!] = 0
        var otherCommit = desired
        otherCommit.revision = String(repeating: "0", count: 40)
        var otherSettings = settings
        otherSettings.maxRemovals += 1
        let changed: [(String, QuietPlan.Inputs)] = [
            ("observed", .init(desired: desired, observed: installed, settings: settings, filesVersion: 1)),
            ("files", .init(desired: desired, observed: observed, settings: settings, filesVersion: 2)),
            ("no observation cache", .init(desired: desired, observed: observed, settings: settings, filesVersion: nil)),
            ("commit", .init(desired: otherCommit, observed: observed, settings: settings, filesVersion: 1)),
            ("settings", .init(desired: desired, observed: observed, settings: otherSettings, filesVersion: 1)),
        ]
        for (label, inputs) in changed {
            #expect(kept.plan(for: inputs) == nil, "\(label)")
        }
    }

    @Test("condition counts are counted again for the machines whose row or BMC reading changed, and for all on a new desired state")
    func conditionCounts() throws {
        let site = try DaemonLoopTests.Site()
        let desired = try site.reconciler.loadDesired()
        let resolver = DefaultsResolver(groups: desired.fleet.groups)
        // One machine whose power dploy manages through its BMC, and another.
        let managed = try #require(desired.fleet.machines.first {
            let effective = resolver.resolve($0)
            return effective.settings.bmc?.address != nil && effective.power != .unmanaged
        })
        let other = try #require(desired.fleet.machines.first { $0.mac != managed.mac })
        let macs = [other.mac.value, managed.mac.value]
        let stranger = try #require(MACAddress("02:00:00:00:00:99"))
        func seen(_ mac: MACAddress, _ state: MachineState = .known) -> ObservedMachine {
            ObservedMachine(mac: mac, firstSeen: Date(timeIntervalSince1970: 0), lastSeen: Date(timeIntervalSince1970: 0), state: state)
        }
        /// What the machine list shows, counted: the counts must say the same.
        func shown(_ fleet: Fleet, _ observed: [ObservedMachine], _ bmc: [MACAddress: BMCRecord]) -> CountedConditions.Counts {
            MachineOverview.rows(fleet: fleet, observed: observed, bmcReadings: bmc).flatMap(\.conditions)
                .reduce(into: [:]) { $0[$1.type, default: [:]][$1.status, default: 0] += 1 }
        }
        let observed = [seen(macs[0]), seen(macs[1]), seen(stranger)]
        let before = CountedConditions.counts(nil, desired: desired, observed: observed, bmcReadings: [:])
        #expect(before.counts == shown(desired.fleet, observed, [:]))

        // One machine installed, another's BMC read, the stranger gone.
        var installed = observed[0]
        installed.state = .installed
        installed.installedGeneration = 1000  // at or above any generation the lab asks for
        let reading = BMCRecord(mac: macs[1], readAt: Date(timeIntervalSince1970: 60), power: "On", health: "OK")
        let changed = [installed, observed[1]]
        let after = CountedConditions.counts(before, desired: desired, observed: changed, bmcReadings: [macs[1]: reading])
        #expect(after.counts == shown(desired.fleet, changed, [macs[1]: reading]))
        #expect(after.counts[.installed] != before.counts[.installed] && after.counts[.powerInSync] != before.counts[.powerInSync])
        #expect(CountedConditions.counts(after, desired: desired, observed: changed, bmcReadings: [macs[1]: reading]).counts == after.counts)

        // Another desired state (a folder's: its fleet is its key) counts every machine again,
        // also those whose row and reading are as they were: a newer generation asked of the
        // installed machine makes it not installed.
        var folder = desired
        folder.revision = nil
        let index = try #require(folder.fleet.machines.firstIndex { $0.mac == other.mac })
        folder.fleet.machines[index].settings.generation = 2000
        let edited = CountedConditions.counts(after, desired: folder, observed: changed, bmcReadings: [macs[1]: reading])
        #expect(edited.counts == shown(folder.fleet, changed, [macs[1]: reading]))
        #expect(edited.counts[.installed] != after.counts[.installed])

        // The daemon counts a new desired state from the settings its plan resolved (the
        // render cache, which an incremental plan keeps for the machines it did not re-plan):
        // the same counts as resolving every machine again.
        let cache = RenderCache()
        let settings = try site.reconciler.settings
        _ = try Planner.plan(desired: desired, observed: ObservedState(), settings: settings, cache: cache)
        _ = try Planner.plan(desired: folder, observed: ObservedState(), settings: settings, cache: cache)
        #expect(cache.machinesPlanned < folder.fleet.machines.count, "the second plan was incremental")
        #expect(folder.fleet.machines.allSatisfy { cache.effective(of: $0) != nil })
        let fromPlan = CountedConditions.counts(after, desired: folder, observed: changed, bmcReadings: [macs[1]: reading],
                                                resolved: { cache.effective(of: $0) })
        #expect(fromPlan.counts == edited.counts)
    }

    @Test("the loop reuses its quiet plan; a standby that becomes the leader plans and looks at every file again")
    func loopReusesQuietPlan() async throws {
        let site = try DaemonLoopTests.Site()
        let cache = try #require(site.reconciler.observationCache)
        let first = try site.loop()
        await first.runOnce(trigger: "start")
        await first.runOnce(trigger: "interval")
        #expect(first.status.lastRun?.result == .unchanged)
        let planned = first.plansMade
        await first.runOnce(trigger: "interval")
        #expect(first.status.lastRun?.result == .unchanged)
        #expect(first.plansMade == planned, "the plan that changed nothing was reused, not made again")

        // A standby on the same output reuses its quiet plan too, until it leads.
        let second = try site.loop()
        await second.runOnce(trigger: "start")
        await second.runOnce(trigger: "interval")
        #expect(second.status.role == .standby)
        let standbyPlans = second.plansMade
        let walks = cache.fullWalks
        try await DaemonLoopTests.takeOver(from: first, by: second)
        #expect(second.status.lastRun?.result == .unchanged)
        #expect(second.plansMade == standbyPlans + 1, "the new leader plans afresh")
        #expect(cache.fullWalks == walks + 1, "and looks at every file, not at what it saw while standing by")
    }
}
