enum DployVersion {
    /// What a source build prints. The release build of `make deb` (packaging/build-release.sh)
    /// compiles a copy of the tree in which this line holds packaging/version.sh's version
    /// (from `git describe`), so this file never changes in git and a fresh clone builds as is.
    static let current = "0.1.0-dev"
}
