enum DployVersion {
    /// Replaced by the release build (`make deb`) with `git describe`.
    static let current = "0.1.0-dev"
}
