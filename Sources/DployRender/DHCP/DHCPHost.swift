import DploySpec

/// One DHCP reservation: a machine's MAC, and its address and name when it has them.
public struct DHCPHost: Hashable, Sendable {
    public var name: String
    public var mac: MACAddress
    public var ip: IPAddress?
    public var hostname: String?
    /// The loader its profile boots through; DHCP hands that loader's program to it.
    public var loader: BootLoader

    public init(_ machine: EffectiveMachine, loader: BootLoader = .ipxe) {
        name = machine.name
        mac = machine.machine.mac.value
        ip = machine.machine.ip?.value
        hostname = machine.settings.hostname
        self.loader = loader
    }

    /// Whether this host's DHCP answer differs from the default (iPXE) one.
    var bootsOtherLoader: Bool { loader != .ipxe }

    /// The IPv4 address, if any: the DHCPv4 servers dploy configures ignore IPv6 ones.
    var ipv4: String? {
        if case .v4? = ip { return ip?.description }
        return nil
    }

    /// The short host name DHCP hands out.
    var dhcpName: String { hostname.map { String($0.prefix { $0 != "." }) } ?? name }
}

/// How a network-booting client finds its boot program, by the loader its machine's profile
/// names and the client's architecture (option 93) — the same rules for every DHCP server:
///
/// - iPXE (the default): legacy BIOS clients get `undionly.kpxe` and UEFI ones `snponly.efi`
///   over TFTP; iPXE itself (user class "iPXE" or option 175) gets the entry script; a UEFI
///   HTTP boot client (vendor class "HTTPClient") gets `snponly.efi` over HTTP from dploy.
///   `snponly.efi`, not `ipxe.efi`: it drives the NIC through the firmware's own network
///   driver, as `undionly.kpxe` does through the PXE ROM, so that when it leaves for the
///   local disk the firmware goes on to its next boot option. Debian's `ipxe.efi` binds
///   its own driver in place of the firmware's and, leaving, hung OVMF (the e2e's step 13).
///   `PlanSettings.bootOptions` keeps `ipxe.efi` when dploy serves no TFTP: a site's own
///   TFTP server has had it since before dploy served loaders.
/// - pxelinux, on a BIOS client: `lpxelinux.0`, with option 210 (path prefix) pointing at
///   dploy over HTTP, so its config (`pxelinux.cfg/01-<mac>`) is decided when it asks. Also
///   when the client's PXE ROM is iPXE (QEMU's is), or the machine would never reach pxelinux.
/// - GRUB, on a UEFI client: `grubnetx64.efi`, whose `grub/grub.cfg` (written by dploy into
///   `output.tftp`) loads the machine's config from dploy over HTTP.
///
/// A pxelinux machine on UEFI, or a GRUB one on BIOS, gets iPXE: those pairs have no
/// network loader in Debian. iPXE renders the same decision, so the install is the same.
public struct DHCPBootOptions: Hashable, Sendable {
    public var server: BootServer
    public var biosFile = "undionly.kpxe"
    public var uefiFile = "snponly.efi"
    public var pxelinuxFile = "lpxelinux.0"
    public var grubFile = "grubnetx64.efi"

    public init(server: BootServer) { self.server = server }

    var entryScriptURL: String { server.url + "/" + BootPaths.ipxeEntry.path }
    /// What a UEFI HTTP boot client downloads: dploy serves the loaders Debian ships.
    var httpBootURL: String { server.url + "/" + LoaderFiles.urlPath(uefiFile) }
    /// pxelinux's option 210: config names are appended to it, so they are asked of dploy.
    var pxelinuxPathPrefix: String { server.url + "/" }
}
