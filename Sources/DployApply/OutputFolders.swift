import DployRender
import Foundation

/// Where each output root is on disk.
public struct OutputFolders: Hashable, Sendable {
    public var http: String
    public var tftp: String
    public var dhcp: String

    public init(http: String, tftp: String, dhcp: String) {
        self.http = http
        self.tftp = tftp
        self.dhcp = dhcp
    }

    public func folder(_ root: OutputPath.Root) -> String {
        switch root {
        case .http: http
        case .tftp: tftp
        case .dhcp: dhcp
        }
    }

    public func diskPath(_ path: OutputPath) -> String { folder(path.root) + "/" + path.path }

    /// The output folders, and the ones dploy manages inside them, that other users may write
    /// to. dploy writes there as its own user (root, for `dploy apply` by hand): another user
    /// who can plant a link in them has dploy write a boot file, or an installer answer,
    /// wherever the link points. Folders dploy creates are 0755; one made otherwise is the
    /// operator's to fix.
    public func writableByOthers(managed: [(OutputPath.Root, String)]) -> [String] {
        let candidates = [http, tftp, dhcp] + managed.map { folder($0.0) + "/" + $0.1 }
        return candidates.filter { path in
            var status = stat()
            return lstat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR && status.st_mode & 0o002 != 0
        }
    }
}
