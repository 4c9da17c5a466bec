import DployInventory
import DployPlan
import DployRender
import Foundation
import Synchronization

/// The desired state in force and the boot decisions made from it. The reconcile loop
/// swaps both at once when git moves, so a boot never sees half of a commit.
public final class LiveDesired: Sendable {
    public struct Snapshot: Sendable {
        public let desired: DesiredState
        public let decisions: BootDecisions
    }

    let store: any Store
    let server: BootServer
    let discovery: BootDecisions.Discovery?
    let imaging: BootDecisions.Discovery?
    let maxAttempts: Int
    let attemptWindow: TimeInterval
    /// Machines that reported themselves and are not in git, at most (`store.maxDiscovered`):
    /// any host can invent MACs, and each would be a row, a hardware report and events.
    let maxDiscovered: Int
    private let current = Mutex<Snapshot?>(nil)

    public init(store: any Store, server: BootServer, discovery: BootDecisions.Discovery?,
                imaging: BootDecisions.Discovery? = nil, maxAttempts: Int = 3,
                attemptWindow: TimeInterval = BootDecider.attemptWindow, maxDiscovered: Int = 10_000) {
        self.store = store
        self.server = server
        self.discovery = discovery
        self.imaging = imaging
        self.maxAttempts = maxAttempts
        self.attemptWindow = attemptWindow
        self.maxDiscovered = maxDiscovered
    }

    /// Nil until the first good desired state is loaded.
    public var snapshot: Snapshot? { current.withLock { $0 } }

    public func update(_ desired: DesiredState) {
        let decisions = BootDecisions(desired: desired, store: store, server: server, discovery: discovery,
                                      imaging: imaging, maxAttempts: maxAttempts, attemptWindow: attemptWindow)
        current.withLock { $0 = Snapshot(desired: desired, decisions: decisions) }
    }
}
