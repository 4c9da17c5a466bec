import Foundation

/// How a `FirmwareBaseline` reaches its machines: a few canaries first, then waves that
/// each start only when the one before finished and reports the baseline's versions, at
/// most `maxParallel` flashes at once, only inside `window`, halted when more than
/// `maxFailures` flashes fail (until `dploy rollout resume NAME` or the baseline changes a failed flash's version).
public struct RolloutPolicy: Hashable, Sendable {
    /// How many machines (the first by name) are flashed, and must report the new versions,
    /// before any other is.
    public var canaries: Int = 0
    /// Cumulative shares of the other machines, in percent, ascending, the last 100: wave
    /// `i` holds those up to `waves[i]` % (rounded up) in name order.
    public var waves: [Int] = [100]
    /// At most this many of the baseline's flashes queued or running at once; nil: no bound
    /// but the controller's `bmc.jobWorkers`.
    public var maxParallel: Int?
    /// Failed flashes tolerated; one more halts the rollout.
    public var maxFailures: Int = 0
    /// When flashes may start; nil: any time.
    public var window: Window?

    public init(canaries: Int = 0, waves: [Int] = [100], maxParallel: Int? = nil, maxFailures: Int = 0, window: Window? = nil) {
        self.canaries = canaries
        self.waves = waves
        self.maxParallel = maxParallel
        self.maxFailures = maxFailures
        self.window = window
    }

    /// Days and a time range, in UTC or a fixed offset from it, when flashes may start
    /// (flashes under way at its end run on). The range is within one day: `from` < `to`.
    public struct Window: Hashable, Sendable {
        public enum Day: String, CaseIterable, Hashable, Sendable {
            case mon, tue, wed, thu, fri, sat, sun
        }

        public var days: Set<Day>
        /// Minutes after midnight, local to `offsetMinutes`.
        public var from: Int
        public var to: Int
        /// The time zone as an offset from UTC, in minutes (`UTC` is 0, `+02:00` is 120).
        public var offsetMinutes: Int

        public init(days: Set<Day>, from: Int, to: Int, offsetMinutes: Int = 0) {
            self.days = days
            self.from = from
            self.to = to
            self.offsetMinutes = offsetMinutes
        }

        /// The local day and minute of `date`: arithmetic on the epoch, no calendar (1970-01-01 was a Thursday).
        private func local(_ date: Date) -> (day: Day, minute: Int, dayStart: Double) {
            let seconds = date.timeIntervalSince1970 + Double(offsetMinutes * 60)
            let days = (seconds / 86_400).rounded(.down)
            let weekday = ((Int(days) % 7) + 7 + 3) % 7  // 0 = Monday
            return (Day.allCases[weekday], Int((seconds - days * 86_400) / 60), days * 86_400 - Double(offsetMinutes * 60))
        }

        public func isOpen(at date: Date) -> Bool {
            let now = local(date)
            return days.contains(now.day) && now.minute >= from && now.minute < to
        }

        /// The next time it opens after `date` (now, when open), within a week.
        public func nextOpening(after date: Date) -> Date? {
            if isOpen(at: date) { return date }
            let start = local(date)
            for ahead in 0...7 {
                let opening = Date(timeIntervalSince1970: start.dayStart + Double(ahead * 86_400 + from * 60))
                if opening > date, days.contains(local(opening).day) { return opening }
            }
            return nil
        }

        /// `tue, thu 02:00–06:00 UTC`.
        public var text: String {
            let names = Day.allCases.filter(days.contains).map(\.rawValue).joined(separator: ", ")
            return "\(names) \(Self.clock(from))–\(Self.clock(to)) \(Self.zone(offsetMinutes))"
        }

        static func clock(_ minutes: Int) -> String {
            String(format: "%02d:%02d", minutes / 60, minutes % 60)
        }

        static func zone(_ offset: Int) -> String {
            offset == 0 ? "UTC" : (offset < 0 ? "-" : "+") + clock(abs(offset))
        }

        /// `HH:MM`, 00:00 to 24:00.
        public static func parseClock(_ text: String) -> Result<Int, ValueError> {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
                  (0...24).contains(hours), (0...59).contains(minutes), hours * 60 + minutes <= 24 * 60 else {
                return .failure(ValueError("is not a time of day: '\(text)' (write HH:MM, like 02:00)"))
            }
            return .success(hours * 60 + minutes)
        }

        /// `UTC`, or an offset `+HH:MM` / `-HH:MM`. Named zones (Europe/Paris) are not read:
        /// dploy does no calendar arithmetic (see CONTRIBUTING, ICU).
        public static func parseZone(_ text: String) -> Result<Int, ValueError> {
            if text == "UTC" { return .success(0) }
            let sign = text.first == "-" ? -1 : 1
            guard text.first == "+" || text.first == "-", case .success(let minutes) = parseClock(String(text.dropFirst())),
                  minutes <= 14 * 60 else {
                return .failure(ValueError("is not a time zone dploy reads: '\(text)' (write UTC or an offset like +02:00)"))
            }
            return .success(sign * minutes)
        }
    }

    /// `"10%"` → 10; 1 to 100.
    public static func parsePercent(_ text: String) -> Result<Int, ValueError> {
        guard text.hasSuffix("%"), let value = Int(text.dropLast()), (1...100).contains(value), text.first?.isNumber == true,
              text.first != "0" else {
            return .failure(ValueError("is not a share of the machines: '\(text)' (write a percentage from 1% to 100%, like \"10%\")"))
        }
        return .success(value)
    }
}
