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
/// first snapshot, before any round, has the watch read every BMC and waits for that round
/// at most `firstRoundWait`: a daemon's first plan sees its BMCs when they answer, but a
/// few BMCs that hang (each read may take minutes of timeouts and retries) must not keep a
/// starting daemon from loading its desired state and answering boots for that long. The
/// machines not read by then are left out of that plan, as BMCs that could not be read.
final class BMCWatch: Sendable {
    private struct Entry {
        var target: BMCTarget
        var observation: BMCObservation
        var readAt: ContinuousClock.Instant
    }

    /// A machine dploy acted on, waiting for a reading that shows it.
    private struct Act {
        var at: ContinuousClock.Instant
        /// Reads since that showed nothing new (the BMC still settling) or failed.
        var tries = 0
        /// Not read again before this.
        var notBefore: ContinuousClock.Instant
    }

    private struct State {
        /// The fleet's BMCs as last handed in, by machine name.
        var targets: [String: BMCTarget] = [:]
        var entries: [String: Entry] = [:]
        /// Left out of plans until read again: new, changed, or acted on (`acts`).
        var due: Set<String> = []
        var acts: [String: Act] = [:]
        var lastFullRound: ContinuousClock.Instant?
        /// Whether `run` is reading; without it, a snapshot reads what is due itself.
        var running = false
        /// Whether a snapshot has waited for the first round (once is enough).
        var waitedForFirstRound = false
    }

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let reconciler: Reconciler
    let interval: Duration
    /// How long a BMC is given after an act before it is read (power takes a moment to show).
    let settle: Duration
    /// How often an acted-on BMC whose reads fail is tried again (an iLO resetting after a flash).
    let retry: Duration
    /// Reads after an act that may show nothing new before the reading is taken as it is.
    static let unchangedReads = 3
    /// How long the first snapshot waits for the watch's first round.
    let firstRoundWait: Duration
    /// Keeps a round's observations (the store, the metrics).
    private let record: @Sendable ([BMCObservation], _ macs: [String: MACAddress]) -> Void

    init(reconciler: Reconciler, interval: Duration, settle: Duration = .seconds(2), retry: Duration = .seconds(10),
         firstRoundWait: Duration = .seconds(30), record: @escaping @Sendable ([BMCObservation], [String: MACAddress]) -> Void) {
        self.reconciler = reconciler
        self.interval = interval
        self.settle = settle
        self.retry = retry
        self.firstRoundWait = firstRoundWait
        self.record = record
    }

    /// What the planner sees of these BMCs (`Reconciler.bmcTargets` of the fleet planned):
    /// the latest reading of each machine that is not due to be read again. Waits for BMCs
    /// only the first time (no round yet: at most `firstRoundWait` when `run` reads), or when
    /// no `run` reads for it (a loop driven run by run, as tests drive it).
    func snapshot(_ targets: [BMCTarget]) async -> ObservedBMCs {
        let (firstTime, changed, running) = state.withLock { state -> (Bool, Bool, Bool) in
            let byName = Dictionary(targets.map { ($0.machine, $0) }) { first, _ in first }
            var changed = false
            for target in targets where state.entries[target.machine]?.target != target && !state.due.contains(target.machine) {
                state.due.insert(target.machine)
                changed = true
            }
            state.entries = state.entries.filter { byName[$0.key] == $0.value.target }
            state.due = state.due.filter { byName[$0] != nil }
            state.acts = state.acts.filter { byName[$0.key] != nil }
            state.targets = byName
            // No BMC to read: the first round is over before it began.
            if targets.isEmpty && state.lastFullRound == nil { state.lastFullRound = ContinuousClock.now }
            return (state.lastFullRound == nil, changed, state.running)
        }
        if firstTime && running {
            let wait = state.withLock { state in
                defer { state.waitedForFirstRound = true }
                return !state.waitedForFirstRound
            }
            wake.signal()
            let deadline = ContinuousClock.now + firstRoundWait
            while wait, state.withLock({ $0.lastFullRound == nil }), ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
        } else if firstTime {
            await read(targets, full: true)
        } else if !running {
            let due = state.withLock { state in state.due.compactMap { state.targets[$0] } }
            // Nobody reads later: what is read now is taken as it is.
            if !due.isEmpty { await read(due, full: false, settling: false) }
        } else if changed {
            wake.signal()
        }
        return state.withLock { Self.view($0, of: $0.entries.keys) }
    }

    /// Leaves `machines` out of plans until their BMCs show what was done, and has them read
    /// soon (after `settle`).
    func actedOn(_ machines: some Sequence<String>) {
        let any = state.withLock { state -> Bool in
            var any = false
            let now = ContinuousClock.now
            for machine in machines where state.targets[machine] != nil {
                state.due.insert(machine)
                state.acts[machine] = Act(at: now, notBefore: now + settle)
                any = true
            }
            return any
        }
        if any { wake.signal() }
    }

    /// Forgets every reading: a daemon that leads again after a while reads its BMCs anew
    /// (its first snapshot waits for them) rather than planning on what it read back then.
    func forget() {
        state.withLock { state in
            state.entries = [:]
            state.due = []
            state.acts = [:]
            state.lastFullRound = nil
            state.waitedForFirstRound = false
        }
    }

    /// Whether `machine` is left out of plans until its BMC is read again (tests).
    func isDue(_ machine: String) -> Bool { state.withLock { $0.due.contains(machine) } }

    /// Says `run` is about to start (its task is made but may not have begun), so that the
    /// first snapshot waits for its round instead of reading every BMC itself.
    func willRun() { state.withLock { $0.running = true } }

    /// Reads what is due while `isLeading`, until the task is cancelled: the daemon's task
    /// for BMC reads, apart from the reconcile's.
    func run(isLeading: @escaping @Sendable () -> Bool, onNews: @escaping @Sendable () -> Void) async {
        state.withLock { $0.running = true }
        defer { state.withLock { $0.running = false } }
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let (targets, full, wait) = state.withLock { state -> ([BMCTarget], Bool, Duration) in
                // Before the first snapshot there is no fleet; after it, the first round.
                guard let last = state.lastFullRound else { return (Array(state.targets.values), true, retry) }
                if now - last >= interval { return (Array(state.targets.values), true, interval) }
                let ready = state.due.filter { name in state.acts[name].map { now >= $0.notBefore } ?? true }
                let soonest = state.acts.values.map(\.notBefore).filter { $0 > now }.min().map { $0 - now } ?? retry
                return (ready.compactMap { state.targets[$0] }, false, min(interval - (now - last), soonest))
            }
            guard !targets.isEmpty, isLeading() else {
                _ = await wake.wait(timeout: wait)
                continue
            }
            if await read(targets, full: full) { onNews() }
        }
    }

    /// Reads `targets` now and keeps what was read; returns whether the planner sees
    /// something new (a reading that differs from the one before).
    /// - Parameter settling: whether an acted-on machine whose reading shows nothing new (or
    ///   fails) stays due, to be read again after `settle` (or `retry`).
    @discardableResult
    private func read(_ targets: [BMCTarget], full: Bool, settling: Bool = true) async -> Bool {
        let started = ContinuousClock.now
        let observations = await reconciler.observeBMCs(targets)
        let byName = Dictionary(targets.map { ($0.machine, $0) }) { first, _ in first }
        record(observations, byName.mapValues(\.mac))
        return state.withLock { state in
            let names = Set(observations.map(\.machine))
            // Compared with the readings before, due or not: a machine read again after an
            // act that changed nothing on its BMC is no news (and no reason to act again).
            let before = Self.view(state, of: names, includingDue: true)
            for observation in observations {
                let name = observation.machine
                // A machine whose BMC settings changed during the read is read again.
                guard let target = byName[name], state.targets[name] == target else { continue }
                if var act = state.acts[name] {
                    // Read before the act: it tells of the machine before it, and counts for nothing.
                    if act.at > started { continue }
                    let previous = state.entries[name] != nil ? Self.view(state, of: [name], includingDue: true) : nil
                    let now = ContinuousClock.now
                    let unchanged = observation.error == nil && previous.map { Self.same($0, ObservedBMCs([observation], macs: [name: target.mac])) } ?? false
                    if settling && (observation.error != nil || (unchanged && act.tries + 1 < Self.unchangedReads)) {
                        // Not settled yet (or unreadable, as an iLO resetting after a flash): again later.
                        act.tries += 1
                        act.notBefore = now + (observation.error != nil ? retry : settle * (act.tries + 1))
                        state.acts[name] = act
                        continue
                    }
                    state.acts[name] = nil
                }
                state.entries[name] = Entry(target: target, observation: observation, readAt: started)
                state.due.remove(name)
            }
            if full { state.lastFullRound = started }
            return !Self.same(before, Self.view(state, of: names, includingDue: true))
        }
    }

    /// Whether two views give the planner the same facts.
    private static func same(_ a: ObservedBMCs, _ b: ObservedBMCs) -> Bool {
        a.power == b.power && a.firmware == b.firmware && a.bios == b.bios && a.biosUnread == b.biosUnread
            && a.storage == b.storage && a.storageUnread == b.storageUnread
    }

    /// What the planner sees of `names`: their readings, less those due to be read again
    /// (unless `includingDue`).
    private static func view(_ state: State, of names: some Sequence<String>, includingDue: Bool = false) -> ObservedBMCs {
        let kept = names.compactMap { name in !includingDue && state.due.contains(name) ? nil : state.entries[name] }
        return ObservedBMCs(kept.map(\.observation), macs: Dictionary(kept.map { ($0.target.machine, $0.target.mac) }) { first, _ in first })
    }
}
