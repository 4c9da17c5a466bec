extension Duration {
    /// Parses the spec's duration form: a positive whole number and a unit, `s`, `m` or `h`
    /// (`90s`, `5m`, `1h`). Deliberately small: no fractions, no compound forms.
    public static func parseSpec(_ text: String) -> Result<Duration, ValueError> {
        let failure = ValueError("is not a duration: '\(text)' (use a number and s, m or h, like 90s, 5m or 1h)")
        guard let unit = text.last, let amount = Int(text.dropLast()), amount > 0,
              text.first != "+", text.first != "0" else { return .failure(failure) }
        let multiplier = switch unit {
        case "s": 1
        case "m": 60
        case "h": 3600
        default: 0
        }
        guard multiplier > 0 else { return .failure(failure) }
        let (seconds, overflow) = amount.multipliedReportingOverflow(by: multiplier)
        guard !overflow, seconds <= 366 * 24 * 3600 else {
            return .failure(ValueError("is too long: '\(text)' (at most a year)"))
        }
        return .success(.seconds(seconds))
    }

    /// The spec form of a whole number of seconds, in the largest exact unit.
    public var specDescription: String {
        let seconds = components.seconds
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
