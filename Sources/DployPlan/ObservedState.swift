import DployRender
import DploySpec

/// What the fleet and dploy's own output really are, as far as dploy can see today: the
/// files it manages, and (once the store and the BMC client land) installed generations
/// and power states. The planner compares desired state with this and nothing else.
public struct ObservedState: Hashable, Sendable {
    /// Current contents of every file dploy manages, by output path.
    public var files: [OutputPath: [UInt8]]
    /// The generation each machine last finished installing, by MAC.
    public var installedGenerations: [MACAddress: Int]
    /// Power as the BMC reports it, by MAC.
    public var power: [MACAddress: ObservedPower]
    /// Model and firmware versions as the BMC reports them, by MAC (machines with a baseline).
    public var firmware: [MACAddress: ObservedFirmware] = [:]
    /// The generation each machine is installing now (its installer has not called back).
    public var installing: [MACAddress: Int] = [:]
    /// The generation whose install failed last, for machines whose newest attempt failed.
    public var failedInstalls: [MACAddress: Int] = [:]
    /// Machines that booted from the network and reported themselves, with a word on what
    /// they are ("HPE ProLiant DL360 Gen10"); the planner names those not in git.
    public var discovered: [MACAddress: String]

    public init(files: [OutputPath: [UInt8]] = [:], installedGenerations: [MACAddress: Int] = [:],
                power: [MACAddress: ObservedPower] = [:], discovered: [MACAddress: String] = [:]) {
        self.files = files
        self.installedGenerations = installedGenerations
        self.power = power
        self.discovered = discovered
    }

    /// Output folders that hold only dploy's files; everything in them is observed.
    public static let managedFolders: [(OutputPath.Root, String)] = [
        (.http, "ipxe"), (.http, "installers"), (.tftp, "pxelinux.cfg"), (.tftp, "grub"),
    ]
}

public enum ObservedPower: String, Hashable, Sendable, Codable {
    case on, off
}
