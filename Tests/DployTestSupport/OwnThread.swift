import DploySpec
import Foundation
import Synchronization
import Testing

/// Runs each test of a suite on a thread of its own, not on Swift's cooperative pool:
/// `@Suite("…", .ownThread)`. Every suite carries it (`OwnThreadTests` checks).
///
/// Why: Swift Testing runs every test on that pool, and on Linux the pool has one thread per
/// core and never grows (two here and in CI). A test that blocks holds its thread for as
/// long: starting PostgreSQL (initdb), waiting for a child process or its first line of
/// output, a job runner's `waitUntilIdle`, seconds of CPU in a synchronous test. Two such
/// tests at once and every other test stops where it awaits, while its own timeouts run:
/// in CI a daemon's first run, bounded to 2 s of waiting, was seen to take 23 s, and a
/// probe task on the pool was 46 s late at the start of a run.
///
/// Under this trait the test's body, everything it awaits and the child tasks it starts
/// (task groups, `async let`: they inherit the preference) run on its thread
/// (`withTaskExecutorPreference`). A server a test runs in a task group, as
/// HummingbirdTesting's live tests do, answers on that thread too: a call that blocks
/// while the server must answer waits on a thread of its own (`ServerCurl`). Unstructured
/// tasks (`Task { }`, as a loop's `run()`) go to the pool, which they now find free. At
/// most `limit` tests run at once, so that a suite run does not start every test's
/// servers in the same second; the others wait without holding a thread.
public struct OwnThread: TestTrait, SuiteTrait, TestScoping {
    /// How many tests under this trait run at once.
    public static let limit = 8
    private static let slots = Slots(limit)

    /// The thread the current test runs on (its id, as `/proc/thread-self` names it), while
    /// a test under this trait runs; nil otherwise.
    @TaskLocal public static var threadID: Int?

    /// The calling thread's id.
    public static func currentThreadID() -> Int? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")).flatMap { Int($0.split(separator: "/").last ?? "") }
    }

    public var isRecursive: Bool { true }

    /// Each test case on its own thread; never a suite's whole run, which would hold a slot
    /// its own tests wait for.
    public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        test.isSuite || testCase == nil ? nil : self
    }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // Already on a thread of its own (the trait given twice, to a suite and its test):
        // a second slot, waited for while holding the first, could deadlock the run.
        if Self.threadID != nil { return try await function() }
        await Self.slots.acquire()
        defer { Self.slots.release() }
        let executor = ThreadExecutor(name: "dploy-test")
        defer { executor.finish() }
        try await withTaskExecutorPreference(executor) {
            // Here, on the executor's thread.
            try await Self.$threadID.withValue(Self.currentThreadID()) { try await function() }
        }
    }

    /// A counting semaphore whose waiters suspend instead of blocking a thread.
    private final class Slots: Sendable {
        private struct State {
            var free: Int
            var waiting: [CheckedContinuation<Void, Never>] = []
        }
        private let state: Mutex<State>

        init(_ count: Int) { state = Mutex(State(free: count)) }

        func acquire() async {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    guard state.free > 0 else {
                        state.waiting.append(continuation)
                        return false
                    }
                    state.free -= 1
                    return true
                }
                if now { continuation.resume() }
            }
        }

        /// Hands the slot to the first waiter, if any, else frees it.
        func release() {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard !state.waiting.isEmpty else {
                    state.free += 1
                    return nil
                }
                return state.waiting.removeFirst()
            }
            next?.resume()
        }
    }
}

extension Trait where Self == OwnThread {
    /// Each test of the suite on a thread of its own (`OwnThread`).
    public static var ownThread: Self { OwnThread() }
}
