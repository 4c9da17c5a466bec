import DploySpec

/// What a machine's next network boot should do.
public enum BootIntent: Hashable, Sendable {
    /// Install the machine's profile (its generation is not installed yet).
    case install(Profile)
    /// Boot from the local disk.
    case localDisk
}

/// The line the planner's copy of a boot file adds under its header: dploy's own server
/// decides when the machine asks, and never reads the file.
public let snapshotNote = "# A snapshot made at plan time, for a server other than dploy's; dploy serve decides when asked."

/// The HTTP base machines reach dploy at, e.g. `http://198.18.0.1:8080`.
public struct BootServer: Hashable, Sendable {
    public var url: String
    /// Signs install callbacks; without it callback URLs carry no token (the server refuses them).
    public var callbackKey: CallbackKey?

    public init(url: String, callbackKey: CallbackKey? = nil) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.callbackKey = callbackKey
    }

    /// Where a machine's installer answers (preseed, kickstart, user-data) are served.
    public func installerURL(for machine: String) -> String { "\(url)/installers/\(machine)/" }

    /// Where the installer reports it finished, with the token for this machine and generation.
    public func callbackURL(for mac: MACAddress, generation: Int) -> String {
        let base = "\(url)/v1/machines/\(mac.hyphenated)/installed?generation=\(generation)"
        return callbackKey.map { base + "&token=" + $0.token(mac: mac, generation: generation) } ?? base
    }
}

/// File names every renderer agrees on.
public enum BootPaths {
    public static func ipxeScript(_ mac: MACAddress) -> OutputPath { OutputPath(.http, "ipxe/\(mac.hyphenated).ipxe") }
    public static let ipxeEntry = OutputPath(.http, "boot.ipxe")
    public static func pxelinux(_ mac: MACAddress) -> OutputPath { OutputPath(.tftp, "pxelinux.cfg/01-\(mac.hyphenated)") }
    public static func grub(_ mac: MACAddress) -> OutputPath { OutputPath(.tftp, "grub/grub.cfg-01-\(mac.hyphenated)") }
    /// Every per-machine boot file a MAC may have, whichever loader wrote it.
    public static func machineFiles(_ mac: MACAddress) -> [OutputPath] { [ipxeScript(mac), pxelinux(mac), grub(mac)] }
    /// The one config Debian's `grubnetx64.efi` reads over TFTP (its prefix is `/grub`).
    public static let grubEntry = OutputPath(.tftp, "grub/grub.cfg")
    public static func installerFolder(_ machine: String) -> String { "installers/\(machine)" }

    /// The MAC a loader's config request names, as the loader wrote it: `<mac>.ipxe` (iPXE,
    /// under `ipxe/`), `01-<mac>` (pxelinux, under `pxelinux.cfg/`; 01 is Ethernet's ARP
    /// type), `grub.cfg-01-<mac>` (GRUB, under `grub/`). Nil for any other name: pxelinux's
    /// UUID and IP probes and `default` are not found, and the loader tries its next name.
    public static func configMAC(_ name: String, loader: BootLoader) -> String? {
        let mac: Substring? = switch loader {
        case .ipxe: name.hasSuffix(".ipxe") ? name.dropLast(5) : nil
        case .pxelinux: name.hasPrefix("01-") ? name.dropFirst(3) : nil
        case .grub: name.hasPrefix("grub.cfg-01-") ? name.dropFirst(12) : nil
        }
        return mac.map(String.init)
    }
}
