extension Duration {
    /// Parses the spec's duration form: a positive whole number and a unit, `s`, `m` or `h`
    /// (`90s`, `5m`, `1h`). Deliberately small: no fractions, no compound forms.
    public static func parseSpec(_ text: String) -> Result<Duration, ValueError> {
        let failure = ValueError("is not a duration: '\(text)' (use a number and s, m or h, like 90s, 5m or 1h)")
        guard let unit = text.last, let amount = Int(text.dropLast()), amount > 0,
              text.first != "+", text.first != "0" else { return .failure(failure) }
        switch unit {
        case "s": return .success(.seconds(amount))
        case "m": return .success(.seconds(amount * 60))
        case "h": return .success(.seconds(amount * 3600))
        default: return .failure(failure)
        }
    }

    /// The spec form of a whole number of seconds, in the largest exact unit.
    public var specDescription: String {
        let seconds = components.seconds
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
