import Foundation
import GRDB

/// Dates in the store as GRDB writes them, `2026-11-27 20:13:37.123` in UTC, made and read
/// by arithmetic. GRDB's own conversions go through Foundation's DateFormatter and Calendar,
/// which run on ICU: its code and data were 5 MiB of a daemon's resident memory, paid for
/// the few dates a reconcile run writes or compares.
enum StoreDate {
    private static let millisecondsPerDay: Int64 = 86_400_000

    /// GRDB's text for `date`, to the nearest millisecond, computed as its formatter does
    /// (Foundation adds half a millisecond, ICU cuts the rest) so that both agree to the digit.
    static func text(_ date: Date) -> String {
        let since1970 = date.timeIntervalSinceReferenceDate + Date.timeIntervalBetween1970AndReferenceDate
        let milliseconds = Int64((since1970 * 1000 + 0.5).rounded(.down))
        let days = milliseconds >= 0 ? milliseconds / millisecondsPerDay : (milliseconds + 1) / millisecondsPerDay - 1
        let (year, month, day) = civil(fromDays: days)
        let inDay = milliseconds - days * millisecondsPerDay
        func padded(_ value: Int64, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2)) \(padded(inDay / 3_600_000, 2)):"
            + "\(padded(inDay / 60_000 % 60, 2)):\(padded(inDay / 1000 % 60, 2)).\(padded(inDay % 1000, 3))"
    }

    /// The date of `yyyy-MM-dd HH:mm:ss[.SSS]` (or with `T` between), read as UTC; nil for
    /// any other text.
    static func date(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 19, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: " ") || bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var milliseconds: Int64 = 0
        if bytes.count > 19 {
            // Fractional seconds: GRDB writes three digits; more are cut to milliseconds.
            let end = min(bytes.count, 23)
            guard bytes[19] == UInt8(ascii: "."), bytes.count > 20,
                  bytes[20...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  let leading = number(20..<end) else { return nil }
            milliseconds = leading * [100, 10, 1][end - 21]
        }
        let seconds = days(fromCivil: year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSince1970: Double(seconds * 1000 + milliseconds) / 1000)
    }

    /// A date column's value: the text above, or whatever else GRDB reads as a date.
    @Sendable static func decode(_ value: DatabaseValue) -> Date? {
        String.fromDatabaseValue(value).flatMap(date) ?? Date.fromDatabaseValue(value)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `days(fromCivil:_:_:)`.
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A row of dploy's store. Its dates go through `StoreDate`, in GRDB's format, so stores
/// written before read the same.
protocol StoreRow: Codable, Equatable, FetchableRecord, PersistableRecord {}

extension StoreRow {
    static func databaseDateEncodingStrategy(for column: String) -> DatabaseDateEncodingStrategy {
        .custom { StoreDate.text($0) }
    }

    static func databaseDateDecodingStrategy(for column: String) -> DatabaseDateDecodingStrategy {
        .custom(StoreDate.decode)
    }
}
