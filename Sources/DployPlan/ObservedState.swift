import Crypto
import Foundation
import DployInventory
import DployRender
import DploySpec

/// What the fleet and dploy's own output really are, as far as dploy can see today: the
/// files it manages, and (once the store and the BMC client land) installed generations
/// and power states. The planner compares desired state with this and nothing else.
public struct ObservedState: Hashable, Sendable {
    /// Every file dploy manages as it is now, by output path.
    public var files: [OutputPath: ObservedFile]
    /// The generation each machine last finished installing, by MAC.
    public var installedGenerations: [MACAddress: Int]
    /// Power as the BMC reports it, by MAC.
    public var power: [MACAddress: ObservedPower]
    /// Model and firmware versions as the BMC reports them, by MAC (machines with a baseline).
    public var firmware: [MACAddress: ObservedFirmware] = [:]
    /// BIOS attributes, current and pending, as the BMC reports them, by MAC (machines with `bios`).
    public var bios: [MACAddress: ObservedBIOS] = [:]
    /// Why the BIOS could not be read, by MAC, for machines with `bios` whose BMC was read:
    /// the plan says so instead of planning nothing in silence.
    public var biosUnread: [MACAddress: String] = [:]
    /// RAID controllers with their logical and physical drives, by MAC (machines with `storage`).
    public var storage: [MACAddress: ObservedStorage] = [:]
    /// Why the storage could not be read, by MAC, for machines with `storage` whose BMC was read.
    public var storageUnread: [MACAddress: String] = [:]
    /// The generation each machine is installing now (its installer has not called back).
    public var installing: [MACAddress: Int] = [:]
    /// The generation whose install failed last, for machines whose newest attempt failed.
    public var failedInstalls: [MACAddress: Int] = [:]
    /// Machines that booted from the network and reported themselves, with a word on what
    /// they are ("HPE ProLiant DL360 Gen10"); the planner names those not in git.
    public var discovered: [MACAddress: String]
    /// The DHCP files were last changed by an apply whose reload did not finish (it failed,
    /// or the process died between the rename and the reload): the server may still run the
    /// old configuration although the files match git.
    public var dhcpReloadPending = false
    /// Every recorded task run's state: a run with none is pending.
    public var taskRuns: [TaskRunKey: TaskRunState] = [:]
    /// Machines in their imaging environment, by MAC, with the task: their BMC steps wait.
    public var imaging: [MACAddress: String] = [:]
    /// Each machine's newest BMC job per step, by machine name (`Store.latestBMCJobs`):
    /// steps with a job queued or running are not planned again, nor failed flashes.
    public var bmcJobs: [String: [BMCJob]] = [:]
    /// The time of day rollout windows are read at (to the minute); set only when a rollout
    /// has a window, so that a quiet plan stays quiet otherwise. nil: windows are closed.
    public var now: Date?
    /// When each rollout (by baseline name) was last resumed: failures before it no longer halt it.
    public var rolloutResumes: [String: Date] = [:]

    public init(files: [OutputPath: ObservedFile] = [:], installedGenerations: [MACAddress: Int] = [:],
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

/// A file dploy manages, as observed: its contents by SHA-256, and the machine its first
/// lines name. Digests, not bytes: a fleet's files are tens of megabytes, and a daemon that
/// kept them beside their renders would hold them twice.
public struct ObservedFile: Hashable, Sendable {
    public var digest: ContentDigest
    /// NAME from a `# dploy: NAME (MAC)` line among the first three (within 200 bytes), the
    /// line every boot file dploy writes starts with; nil in a file dploy did not write.
    /// Only the name is kept, not the lines: a daemon holds one per file of the fleet, and a
    /// machine name is short enough to be stored inline.
    public var owner: String?

    public init(contents: [UInt8]) {
        self.init(digest: ContentDigest(contents), head: contents.prefix(200))
    }

    /// From a digest computed elsewhere (a file hashed as it is read) and the file's first bytes.
    /// A file as a persisted cache recorded it: its digest and the owner its head named.
    public init(digest: ContentDigest, owner: String?) {
        self.digest = digest
        self.owner = owner
    }

    public init(digest: ContentDigest, head: some Collection<UInt8>) {
        self.digest = digest
        owner = Self.owner(inHead: String(decoding: head.prefix(200), as: UTF8.self))
    }

    static func owner(inHead head: String) -> String? {
        for line in head.split(separator: "\n", omittingEmptySubsequences: false).prefix(3) where line.hasPrefix("# dploy: ") {
            let rest = line.dropFirst("# dploy: ".count)
            guard let space = rest.firstIndex(of: " "), rest[space...].hasPrefix(" (") else { return nil }
            return String(rest[..<space])
        }
        return nil
    }
}

/// A file's digest computed block by block, as it is read: no file is ever whole in memory.
public struct ContentHasher {
    var sha = SHA256()
    public init() {}
    public mutating func update(_ bytes: ArraySlice<UInt8>) { sha.update(data: bytes) }
    public func finalize() -> ContentDigest { ContentDigest(sha.finalize()) }
}

/// SHA-256 of a file's contents, in four words: no allocation per file.
public struct ContentDigest: Hashable, Sendable {
    let words: (UInt64, UInt64, UInt64, UInt64)

    public init(_ contents: [UInt8]) {
        self.init(SHA256.hash(data: contents))
    }

    init(_ digest: SHA256.Digest) {
        words = digest.withUnsafeBytes { bytes in
            (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }

    public static func == (a: ContentDigest, b: ContentDigest) -> Bool { a.words == b.words }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }

    /// A digest from the 32 bytes `bytes` gave: how a persisted cache reads one back. Nil
    /// for any other length.
    public init?(rawBytes: some Collection<UInt8>) {
        guard rawBytes.count == 32 else { return nil }
        let bytes = Array(rawBytes)
        func word(_ start: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[start + $1]) << ($1 * 8) } }
        words = (word(0), word(8), word(16), word(24))
    }

    /// The digest's bytes, for fingerprints and persisted caches.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return bytes
    }
}

public enum ObservedPower: String, Hashable, Sendable, Codable {
    case on, off
}

extension PowerAction {
    /// The step that brings a machine to its power policy; nil when dploy leaves power alone.
    init?(desired: PowerPolicy) {
        switch desired {
        case .on: self = .on
        case .off: self = .off
        case .unmanaged: return nil
        }
    }
}
