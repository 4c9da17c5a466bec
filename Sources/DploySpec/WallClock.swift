import Foundation

/// Where dploy reads the time of day: deadlines, "still running at", attempt times, the
/// times it records. Code that decides by the time takes one (`.system` by default), so a
/// test moves time instead of sleeping past a deadline. Here, in the module every other
/// imports, because the controller, the server and the stores all read it.
/// Durations measured in-process (timeouts, step times) use `ContinuousClock`, not this.
public struct WallClock: Sendable {
    public let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date) {
        self.now = now
    }

    /// The system's time of day.
    public static let system = WallClock { Date() }
}
