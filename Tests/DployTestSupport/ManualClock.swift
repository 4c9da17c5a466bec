import DploySpec
import Foundation
import Synchronization

/// A time of day the test moves: handed to code as a `WallClock`, it reads `start` until
/// `advance` moves it, so a deadline passes when the test says, not after a sleep.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date()) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    public var wallClock: WallClock { WallClock { [self] in now } }
}
