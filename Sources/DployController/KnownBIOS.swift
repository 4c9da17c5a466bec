import DployPlan
import DploySpec
import Synchronization

/// What the controller last read of each machine's BIOS, for the loader's `BIOSCheck`: the
/// daemon's loop puts its BMC watch's readings here after each run reads them, and the next
/// load (a new commit, or the folder read again) is checked against them. Shared by every
/// copy of a `Reconciler`, as its caches are. Empty until a BIOS is read: one-shot commands
/// read no BMC, and the store keeps no BIOS attributes, so they check nothing here.
public final class KnownBIOS: Sendable {
    private let readings = Mutex<[MACAddress: ObservedBIOS]>([:])

    public init() {}

    public var current: [MACAddress: ObservedBIOS] { readings.withLock { $0 } }

    /// The readings of one round: machines not in it are forgotten (no longer read for BIOS,
    /// or their BIOS could not be read), as the planner forgets them.
    public func replace(with bios: [MACAddress: ObservedBIOS]) {
        readings.withLock { $0 = bios }
    }

    /// The check, as a loader rule.
    func check(_ fleet: Fleet) -> [Diagnostic] {
        BIOSCheck.diagnostics(fleet, bios: current)
    }
}
