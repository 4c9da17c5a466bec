import DploySpec

/// iPXE scripts: one per machine, and the entry script every iPXE client chains first.
public enum IPXEScript {
    /// Chains the machine's own script by MAC; an unknown machine boots its local disk
    /// (discovery replaces that fallback when the inventory server lands).
    public static func entry(server: BootServer) -> String {
        """
        #!ipxe
        # dploy: entry script. Generated; do not edit.
        chain --autofree \(server.url)/ipxe/${net0/mac:hexhyp}.ipxe || goto unknown
        :unknown
        echo dploy: no script for ${net0/mac}, booting the local disk
        \(leaveForLocalDisk)

        """
    }

    public static func machine(_ machine: EffectiveMachine, intent: BootIntent, server: BootServer, snapshot: Bool = false) -> String {
        let header = """
            #!ipxe
            # dploy: \(machine.name) (\(machine.machine.mac.value)), generation \(machine.generation). Generated; do not edit.

            """ + (snapshot ? snapshotNote + "\n" : "")
        switch intent {
        case .localDisk:
            return header + "echo dploy: \(machine.name) boots its local disk\n\(leaveForLocalDisk)\n"
        case .install(let profile):
            switch profile.source {
            case .boot(let kernel, let initrd, let args):
                let command = KernelCommandLine.forIPXE(
                    KernelCommandLine.arguments(profile: profile, args: args, machine: machine, server: server))
                return header + """
                    echo dploy: installing \(machine.name) with \(profile.name), generation \(machine.generation)
                    kernel \(KernelCommandLine.oneLine(kernel)) initrd=\(KernelCommandLine.oneLine(fileName(initrd))) \(command)
                    initrd \(KernelCommandLine.oneLine(initrd))
                    boot

                    """
            case .image:
                return header + """
                    echo dploy: \(profile.name) is a disk image, and images are written by the imaging environment, not built yet
                    \(leaveForLocalDisk)

                    """
            }
        }
    }

    /// Leaves iPXE so that the firmware boots the next device, the disk. With a non-zero
    /// status: UEFI firmware takes a loader that returns success as a finished boot and shows
    /// its boot menu (OVMF does, and the e2e caught it), while an error makes it try the
    /// next boot option; a BIOS goes on to the next device either way.
    static let leaveForLocalDisk = "exit 1"

    /// The last path segment, which iPXE uses as the initrd's name on the kernel command line.
    public static func fileName(_ url: String) -> String {
        String(url.split(separator: "/").last ?? Substring(url))
    }
}
