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
}
