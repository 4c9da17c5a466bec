import DployInventory
import DployPlan
import DploySpec
import Synchronization

/// What the controller knows of each machine's BIOS, for the loader's `BIOSCheck`: the names
/// and value types it last listed. Shared by every copy of a `Reconciler`, as its caches are.
///
/// Where they come from:
/// - the store (`read(from:)`), where each BMC reading keeps them: one-shot commands
///   (`dploy plan`, `apply`, `validate --config`) and a daemon's run before it has read its
///   BMCs (its first, or its first since it took the lead), so a restarted daemon refuses a
///   bad commit before its first BMC round;
/// - the daemon's BMC watch (`replace(with:)`), after each run that read them: the next
///   load is checked against the readings the store now holds too.
///
/// Only this site's machines are checked: a shared store holds every site's readings, and
/// another site's controller answers for its own machines.
public final class KnownBIOS: Sendable {
    private struct State {
        var types: [MACAddress: BIOSAttributeTypes] = [:]
        /// The readings `types` was made from, by MAC: an unchanged reading is not converted again.
        var observed: [MACAddress: ObservedBIOS] = [:]
    }

    private let state = Mutex(State())
    private let site: String

    public init(site: String = Site.defaultName) {
        self.site = site
    }

    public var current: [MACAddress: BIOSAttributeTypes] { state.withLock { $0.types } }

    /// The readings of one round: machines not in it are forgotten (no longer read for BIOS,
    /// or their BIOS could not be read), as the planner forgets them.
    public func replace(with bios: [MACAddress: ObservedBIOS]) {
        state.withLock { state in
            var types: [MACAddress: BIOSAttributeTypes] = [:]
            // Machines of one BIOS model share one copy, as the store's do.
            var shared = Set<BIOSAttributeTypes>()
            for (mac, observed) in bios {
                if state.observed[mac] == observed, let kept = state.types[mac] {
                    types[mac] = kept
                } else {
                    types[mac] = shared.insert(BIOSAttributeTypes(observed)).memberAfterInsert
                }
            }
            state = State(types: types, observed: bios)
        }
    }

    /// What the store's readings listed, replacing what was known.
    public func read(from store: any Store) throws {
        let types = try store.biosAttributes()
        state.withLock { $0 = State(types: types) }
    }

    /// The check, as a loader rule.
    func check(_ fleet: Fleet) -> [Diagnostic] {
        let types = current
        guard !types.isEmpty else { return [] }
        return BIOSCheck.diagnostics(fleet.machines(ofSite: site), bios: types)
    }
}
