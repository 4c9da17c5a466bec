import DployBMC
import DployInventory
import DploySpec
import Foundation
import Synchronization

/// The leader's BMC readings, kept between runs and renewed apart from them.
///
/// A reconcile must not wait on BMCs: a thousand of them take seconds to read (more when
/// some are down or mid-flash), and a commit's boot files must not wait for that. So a run
/// plans from the latest readings (`snapshot`), and the watch reads on a task of its own
/// (`run`):
/// - every BMC once per `interval` (the reconcile interval, as when each run read them all);
/// - soon, a machine new to the fleet, or whose BMC settings or reads changed;
/// - soon, a machine whose BMC dploy has just acted on (`actedOn`: a power step, a boot
///   once, a finished job or task). Until it is read again it is left out of plans, like a
///   BMC that could not be read, so nothing is planned on a reading from before the change.
///   While its reads fail (an iLO resetting after a flash) it is tried every `retry`.
///
/// A read that changes what the planner sees wakes the reconcile (`onNews`), which is how
/// a rollout's next machines start when the last ones report their new firmware. The
/// first snapshot, before any round, reads every BMC there and then, as runs always did:
/// a daemon's first plan sees its BMCs.
final class BMCWatch: Sendable {
    private struct Entry {
        var target: BMCTarget
        var observation: BMCObservation
        var readAt: ContinuousClock.Instant
    }

    private struct State {
        /// The fleet's BMCs as last handed in, by machine name.
        var targets: [String: BMCTarget] = [:]
        var entries: [String: Entry] = [:]
        /// Left out of plans until read again.
        var due: Set<String> = []
        /// Acted on, and not read successfully since.
        var retrying: Set<String> = []
        var lastFullRound: ContinuousClock.Instant?
        /// Whether `run` is reading; without it, a snapshot reads what is due itself.
        var running = false
    }

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let reconciler: Reconciler
    let interval: Duration
    let retry: Duration
    /// Keeps a round's observations (the store, the metrics).
    private let record: @Sendable ([BMCObservation], _ macs: [String: MACAddress]) -> Void

    init(reconciler: Reconciler, interval: Duration, retry: Duration = .seconds(10),
         record: @escaping @Sendable ([BMCObservation], [String: MACAddress]) -> Void) {
        self.reconciler = reconciler
        self.interval = interval
        self.retry = retry
        self.record = record
    }

    /// What the planner sees of the BMCs of `fleet`: the latest reading of each machine that
    /// is not due to be read again. Waits for BMCs only the first time (no round yet), or
    /// when no `run` reads for it (a loop driven run by run, as tests drive it).
    func snapshot(_ fleet: Fleet) async -> ObservedBMCs {
        let targets = reconciler.bmcTargets(fleet)
        let (firstTime, changed, running) = state.withLock { state -> (Bool, Bool, Bool) in
            let byName = Dictionary(targets.map { ($0.machine, $0) }) { first, _ in first }
            var changed = false
            for target in targets where state.entries[target.machine]?.target != target && !state.due.contains(target.machine) {
                state.due.insert(target.machine)
                changed = true
            }
            state.entries = state.entries.filter { byName[$0.key] == $0.value.target }
            state.due = state.due.filter { byName[$0] != nil }
            state.retrying = state.retrying.filter { byName[$0] != nil }
            state.targets = byName
            return (state.lastFullRound == nil, changed, state.running)
        }
        if firstTime {
            await read(targets, full: true)
        } else if !running {
            let due = state.withLock { state in state.due.compactMap { state.targets[$0] } }
            if !due.isEmpty { await read(due, full: false) }
        } else if changed {
            wake.signal()
        }
        return state.withLock { Self.view($0, of: $0.entries.keys) }
    }

    /// Leaves `machines` out of plans until their BMCs are read again, and has them read soon.
    func actedOn(_ machines: some Sequence<String>) {
        let any = state.withLock { state -> Bool in
            var any = false
            for machine in machines where state.targets[machine] != nil {
                state.due.insert(machine)
                state.retrying.insert(machine)
                any = true
            }
            return any
        }
        if any { wake.signal() }
    }

    /// Whether `machine` is left out of plans until its BMC is read again (tests).
    func isDue(_ machine: String) -> Bool { state.withLock { $0.due.contains(machine) } }

    /// Reads what is due while `isLeading`, until the task is cancelled: the daemon's task
    /// for BMC reads, apart from the reconcile's.
    func run(isLeading: @escaping @Sendable () -> Bool, onNews: @escaping @Sendable () -> Void) async {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (targets, full, wait) = state.withLock { state -> ([BMCTarget], Bool, Duration) in
                // Before the first snapshot there is no fleet: the first run reads.
                guard let last = state.lastFullRound else { return ([], false, retry) }
                if now - last >= interval { return (Array(state.targets.values), true, interval) }
                let retryDue = state.retrying.filter { name in state.entries[name].map { now - $0.readAt >= retry } ?? true }
                let names = state.due.union(retryDue)
                return (names.compactMap { state.targets[$0] }, false, min(interval - (now - last), retry))
            }
            guard !targets.isEmpty, isLeading() else {
                _ = await wake.wait(timeout: wait)
                continue
            }
            if await read(targets, full: full) { onNews() }
        }
    }

    /// Reads `targets` now and keeps what was read; returns whether the planner sees
    /// something new (a machine back in plans, or a reading that differs).
    @discardableResult
    private func read(_ targets: [BMCTarget], full: Bool) async -> Bool {
        let started = ContinuousClock.now
        let observations = await reconciler.observeBMCs(targets)
        let byName = Dictionary(targets.map { ($0.machine, $0) }) { first, _ in first }
        record(observations, byName.mapValues(\.mac))
        return state.withLock { state in
            let names = Set(observations.map(\.machine))
            let before = Self.view(state, of: names)
            for observation in observations {
                // A machine whose BMC settings changed during the read is read again.
                guard let target = byName[observation.machine], state.targets[observation.machine] == target else { continue }
                state.entries[observation.machine] = Entry(target: target, observation: observation, readAt: started)
                state.due.remove(observation.machine)
                if observation.error == nil { state.retrying.remove(observation.machine) }
            }
            if full { state.lastFullRound = started }
            let after = Self.view(state, of: names)
            return before.power != after.power || before.firmware != after.firmware || before.bios != after.bios
                || before.biosUnread != after.biosUnread
        }
    }

    /// What the planner sees of `names`: their readings, less those due to be read again.
    private static func view(_ state: State, of names: some Sequence<String>) -> ObservedBMCs {
        let kept = names.compactMap { name in state.due.contains(name) ? nil : state.entries[name] }
        return ObservedBMCs(kept.map(\.observation), macs: Dictionary(kept.map { ($0.target.machine, $0.target.mac) }) { first, _ in first })
    }
}
