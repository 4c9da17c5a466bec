/// Which files of a spec tree are specs, the same for a folder on disk and a git tree:
/// `*.yaml` and `*.yml` are; hidden files and folders, the controller's own `dploy.yaml`
/// at the top, and whatever the top-level `.dployignore` lists are skipped. Other files
/// (templates) are known, so references to them can be checked, but not parsed.
public struct SpecTreeRules: Sendable {
    public static let ignoreFileName = ".dployignore"
    public static let controllerConfigName = "dploy.yaml"

    public enum Entry: Sendable, Equatable {
        case skipped, folder, spec, otherFile
    }

    let ignore: IgnoreRules

    /// - Parameter ignoreFile: the text of the top-level `.dployignore`, if there is one.
    public init(ignoreFile: String?) { ignore = IgnoreRules(ignoreFile ?? "") }

    /// - Parameter relativePath: `/`-separated, relative to the top of the spec tree.
    public func classify(_ relativePath: String, isDirectory: Bool) -> Entry {
        let components = relativePath.split(separator: "/")
        let name = components.last.map(String.init) ?? relativePath
        if components.contains(where: { $0.hasPrefix(".") }) || ignore.isIgnored(relativePath, isDirectory: isDirectory) {
            return .skipped
        }
        if isDirectory { return .folder }
        if relativePath == Self.controllerConfigName { return .otherFile }
        return name.hasSuffix(".yaml") || name.hasSuffix(".yml") ? .spec : .otherFile
    }
}
