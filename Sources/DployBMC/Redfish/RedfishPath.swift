/// Redfish paths as BMCs spell them. iLO firmware versions disagree on case and trailing
/// slashes (`/redfish/v1/systems/1/bios`, `/redfish/v1/Systems/1/`), so paths are followed
/// exactly as given but compared without case and without a trailing slash.
public enum RedfishPath {
    public static let root = "/redfish/v1/"

    public static func normalized(_ path: String) -> String {
        var path = path
        if let query = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<query]) }
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path.lowercased()
    }

    public static func same(_ a: String, _ b: String) -> Bool { normalized(a) == normalized(b) }

    /// Is `path` at or below `ancestor`? (`/redfish/v1/Systems/1/` is below `/redfish/v1/systems`.)
    public static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        let path = normalized(path), ancestor = normalized(ancestor)
        return path == ancestor || path.hasPrefix(ancestor + "/")
    }
}
