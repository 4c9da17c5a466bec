import DploySpec

/// What one network boot is told, whichever loader asked: the boot decider's verdict in a
/// form every renderer takes. iPXE, pxelinux and GRUB each get it in their own language,
/// so a machine boots the same thing through any of them.
public enum BootAnswer: Hashable, Sendable {
    /// A machine in git: its installer (`.install`) or its disk (`.localDisk`).
    case machine(EffectiveMachine, BootIntent)
    /// A network environment that finds dploy and its own MAC on its kernel command line
    /// (discovery, imaging). `arguments` follow those two; `purpose` names it in the
    /// loader's header and message.
    case environment(BootEnvironment, mac: MACAddress, purpose: String, message: String, arguments: String)
    /// Boot the local disk, saying why (a MAC not in git with discovery not configured).
    case localDisk(message: String)

    /// The answer as `loader` reads it.
    public func rendered(for loader: BootLoader, server: BootServer) -> String {
        switch (self, loader) {
        case (.machine(let machine, let intent), .ipxe): IPXEScript.machine(machine, intent: intent, server: server)
        case (.machine(let machine, let intent), .pxelinux): PXELinuxConfig.machine(machine, intent: intent, server: server)
        case (.machine(let machine, let intent), .grub): GRUBConfig.machine(machine, intent: intent, server: server)
        case (.environment(let environment, let mac, let purpose, let message, let arguments), _):
            Self.environment(environment, loader: loader,
                             commandLine: "\(environment.args) dploy.server=\(server.url) dploy.mac=\(mac)\(arguments)",
                             purpose: purpose, message: message)
        case (.localDisk(let message), .ipxe):
            "#!ipxe\necho dploy: \(KernelCommandLine.oneLine(message))\n\(IPXEScript.leaveForLocalDisk)\n"
        case (.localDisk(let message), .pxelinux):
            "# dploy: \(KernelCommandLine.oneLine(message))\nDEFAULT dploy\nLABEL dploy\n  LOCALBOOT 0\n"
        case (.localDisk(let message), .grub):
            (["# dploy: \(KernelCommandLine.oneLine(message))", "set timeout=0"] + GRUBConfig.localDiskEntry)
                .joined(separator: "\n") + "\n"
        }
    }

    private static func environment(_ environment: BootEnvironment, loader: BootLoader, commandLine: String,
                                    purpose: String, message: String) -> String {
        let kernel = KernelCommandLine.oneLine(environment.kernel), initrd = KernelCommandLine.oneLine(environment.initrd)
        let purpose = KernelCommandLine.oneLine(purpose), message = KernelCommandLine.oneLine(message)
        let commandLine = KernelCommandLine.oneLine(commandLine).trimmingPrefixSpaces
        switch loader {
        case .ipxe:
            return """
                #!ipxe
                # dploy: \(purpose). Generated; do not edit.
                echo dploy: \(message)
                kernel \(kernel) initrd=\(IPXEScript.fileName(initrd)) \(KernelCommandLine.forIPXE(commandLine))
                initrd \(initrd)
                boot

                """
        case .pxelinux:
            return """
                # dploy: \(purpose). Generated; do not edit.
                DEFAULT dploy
                LABEL dploy
                  KERNEL \(kernel)
                  INITRD \(initrd)
                  APPEND \(commandLine)

                """
        case .grub:
            let words = commandLine.split(separator: " ").map { GRUBConfig.quoted(String($0)) }.joined(separator: " ")
            return """
                # dploy: \(purpose). Generated; do not edit.
                set timeout=0
                menuentry 'dploy: \(purpose.replacing("'", with: ""))' {
                  linux \(GRUBConfig.quoted(GRUBConfig.grubPath(kernel))) \(words)
                  initrd \(GRUBConfig.quoted(GRUBConfig.grubPath(initrd)))
                }

                """
        }
    }
}

extension String {
    fileprivate var trimmingPrefixSpaces: String { String(drop { $0 == " " }) }
}
