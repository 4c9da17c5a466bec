import Synchronization

/// Wakes the reconcile loop early. Signals that arrive while the loop is busy collapse into
/// one: a burst of webhooks during a run queues exactly one more run. Whether any of them
/// asked for a fetch is kept apart (`takeFetchRequest`), so that news does not hide a commit.
final class WakeSignal: Sendable {
    private struct State {
        var pending = false
        var fetchRequested = false
        var cancelled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Whether a `wait` is parked waiting for a signal (tests wait for this, not for time).
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// - Parameter fetching: whether the run it wakes must look at git again (a webhook, a
    ///   lost lead), or may plan what is in force (news of BMCs: `ReconcileLoop.news()`).
    func signal(fetching: Bool = true) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if fetching { state.fetchRequested = true }
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Whether a signal since the last call asked for a fetch; clears it. Taken after `wait`
    /// returns, so a signal during the run that follows asks again.
    func takeFetchRequest() -> Bool {
        state.withLock { state in
            defer { state.fetchRequested = false }
            return state.fetchRequested
        }
    }

    /// Returns when signalled (now, if a signal is pending), after `timeout`, or when the
    /// task is cancelled. Returns whether a signal woke it.
    func wait(timeout: Duration) async -> Bool {
        if state.withLock({ state in
            defer { state.pending = false }
            return state.pending
        }) { return true }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            group.addTask { await self.waitForSignal() }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    private func waitForSignal() async -> Bool {
        state.withLock { $0.cancelled = false }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || state.cancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.cancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
        return !Task.isCancelled
    }
}
