import DploySpec

/// `pxelinux.cfg/01-<mac>` for legacy BIOS PXE: boots the kernel directly for a pxelinux
/// profile, chains iPXE (`ipxe.lkrn`) for an iPXE one, and boots the disk otherwise.
public enum PXELinuxConfig {
    public static func machine(_ machine: EffectiveMachine, intent: BootIntent, server: BootServer, snapshot: Bool = false) -> String {
        var lines = ["# dploy: \(machine.name) (\(machine.machine.mac.value)). Generated; do not edit."]
        if snapshot { lines.append(snapshotNote) }
        lines += ["DEFAULT dploy", "LABEL dploy"]
        switch intent {
        case .install(let profile):
            switch (profile.loader, profile.source) {
            // A GRUB profile asked by pxelinux (a BIOS machine) boots the same kernel directly.
            case (.pxelinux, .boot(let kernel, let initrd, let args)), (.grub, .boot(let kernel, let initrd, let args)):
                lines += ["  KERNEL \(KernelCommandLine.oneLine(kernel))", "  INITRD \(KernelCommandLine.oneLine(initrd))",
                          "  APPEND \(KernelCommandLine.arguments(profile: profile, args: args, machine: machine, server: server))"]
            case (.ipxe, _):
                lines += ["  KERNEL ipxe.lkrn", "  APPEND dhcp && chain \(server.url)/ipxe/\(machine.machine.mac.value.hyphenated).ipxe"]
            default:
                lines += ["  LOCALBOOT 0"]
            }
        case .localDisk:
            lines += ["  LOCALBOOT 0"]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
