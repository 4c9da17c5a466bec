import DploySpec

/// What a machine's next network boot should do.
public enum BootIntent: Hashable, Sendable {
    /// Install the machine's profile (its generation is not installed yet).
    case install(Profile)
    /// Boot from the local disk.
    case localDisk
}

/// The HTTP base machines reach dploy at, e.g. `http://198.18.0.1:8080`.
public struct BootServer: Hashable, Sendable {
    public var url: String

    public init(url: String) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
    }

    /// Where a machine's installer answers (preseed, kickstart, user-data) are served.
    public func installerURL(for machine: String) -> String { "\(url)/installers/\(machine)/" }

    /// Where the installer reports it finished. The per-machine token arrives with the server.
    public func callbackURL(for machine: String, generation: Int) -> String {
        "\(url)/v1/machines/\(machine)/installed?generation=\(generation)"
    }
}

/// File names every renderer agrees on.
public enum BootPaths {
    public static func ipxeScript(_ mac: MACAddress) -> OutputPath { OutputPath(.http, "ipxe/\(mac.hyphenated).ipxe") }
    public static let ipxeEntry = OutputPath(.http, "boot.ipxe")
    public static func pxelinux(_ mac: MACAddress) -> OutputPath { OutputPath(.tftp, "pxelinux.cfg/01-\(mac.hyphenated)") }
    public static func grub(_ mac: MACAddress) -> OutputPath { OutputPath(.tftp, "grub/grub.cfg-01-\(mac.hyphenated)") }
    public static func installerFolder(_ machine: String) -> String { "installers/\(machine)" }
}
