/// Why an apply stopped. Every case says what was left as it was.
public enum ApplyError: Error, CustomStringConvertible, Equatable {
    case unreadable(String)
    case io(String, String)
    case checkFailed(file: String, command: String, output: String)
    case reloadFailed(command: String, output: String)
    case needsBMC([String])
    case bmcFailed([String])
    case writableByOthers([String])

    public var description: String {
        switch self {
        case .unreadable(let path): "\(path): cannot read"
        case .io(let path, let reason): "\(path): \(reason)"
        case .checkFailed(let file, let command, let output):
            "the DHCP configuration \(file) failed its check (\(command)); nothing was changed, the old files are in place:\n\(output)"
        case .reloadFailed(let command, let output):
            "the files are written, but reloading the DHCP server failed (\(command)):\n\(output)"
        case .needsBMC(let machines):
            "this plan needs BMC actions for \(machines.joined(separator: ", ")), which this apply cannot run (no BMC access given); nothing was changed"
        case .bmcFailed(let failures):
            "the files are written, but BMC steps failed (the next apply tries again):\n" + failures.joined(separator: "\n")
        case .writableByOthers(let folders):
            "other users can write to \(folders.joined(separator: ", ")), where dploy writes boot files: a link planted there "
                + "would have dploy write wherever it points; nothing was changed (chmod o-w them)"
        }
    }
}
