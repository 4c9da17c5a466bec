/// One physical server: its identity (MAC, IP, BMC) and how it should be set up.
///
/// A value like any other, stored behind one reference: a daemon holds each machine in
/// several places at once (the parsed file it came from, the fleet, the render cache, the
/// state the server reads), and its ~400 bytes inline in each were some 15 MB of a
/// 10,000-machine daemon's heap. Copies share the box; changing a shared copy copies it
/// first (copy on write, as Array does).
public struct Machine: Hashable, Sendable {
    public var metadata: ObjectMeta {
        _read { yield storage.metadata }
        set { unique().metadata = newValue }
    }
    public var mac: Located<MACAddress> {
        _read { yield storage.mac }
        set { unique().mac = newValue }
    }
    public var ip: Located<IPAddress>? {
        _read { yield storage.ip }
        set { unique().ip = newValue }
    }
    /// Everything else; a Group's defaults fill what the machine leaves unset.
    public var settings: MachineSettings {
        _read { yield storage.settings }
        set { unique().settings = newValue }
    }

    public var name: String { metadata.name }

    // Reads borrow the field (`_read`) rather than copy it out of the box.
    private var storage: Storage

    public init(metadata: ObjectMeta, mac: Located<MACAddress>, ip: Located<IPAddress>? = nil,
                settings: MachineSettings = MachineSettings()) {
        storage = Storage(metadata: metadata, mac: mac, ip: ip, settings: settings)
    }

    /// Changed only through `unique()`, that is while one Machine alone refers to it: hence Sendable.
    private final class Storage: @unchecked Sendable {
        var metadata: ObjectMeta
        var mac: Located<MACAddress>
        var ip: Located<IPAddress>?
        var settings: MachineSettings

        init(metadata: ObjectMeta, mac: Located<MACAddress>, ip: Located<IPAddress>?, settings: MachineSettings) {
            self.metadata = metadata
            self.mac = mac
            self.ip = ip
            self.settings = settings
        }
    }

    /// The storage, copied first if another Machine shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(metadata: storage.metadata, mac: storage.mac, ip: storage.ip, settings: storage.settings)
        }
        return storage
    }

    public static func == (lhs: Machine, rhs: Machine) -> Bool {
        lhs.storage === rhs.storage
            || (lhs.metadata == rhs.metadata && lhs.mac == rhs.mac && lhs.ip == rhs.ip && lhs.settings == rhs.settings)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(metadata)
        hasher.combine(mac)
        hasher.combine(ip)
        hasher.combine(settings)
    }
}

/// Desired power state.
public enum PowerPolicy: String, CaseIterable, Hashable, Sendable {
    case on, off
    /// dploy never changes this machine's power, except to run an install it was asked for.
    case unmanaged
}

/// The part of a machine's spec that a Group may supply as defaults. Every field is
/// optional here; `EffectiveMachine` says what applies once defaults are merged.
public struct MachineSettings: Hashable, Sendable {
    public var hostname: String?
    public var bmc: BMCSettings?
    public var profile: String?
    public var generation: Int?
    public var power: PowerPolicy?
    public var firmware: String?
    public var disk: String?
    public var kernelArgs: String?
    /// BIOS attributes to hold (`bios.attributes`); inherited whole: a machine's own map
    /// replaces a group's, it is not merged with it.
    public var bios: BIOSSettings?
    /// The site whose controller converges this machine (`site`, or the machine's `site`
    /// label); none means the `default` site.
    public var site: String?
    /// The RAID to hold (`storage.logicalDrives`); inherited whole, like `bios`.
    public var storage: StorageSettings?
    /// Whether a RAID change that destroys data (deleting or changing a logical drive that
    /// exists) may be applied; without it such a step is planned, marked, and withheld.
    public var allowDestructive: Bool?
    /// Where each field set here was written, keyed by field path (`profile`, `bmc.credentials`).
    public var locations: [String: SourceLocation]

    public init(hostname: String? = nil, bmc: BMCSettings? = nil, profile: String? = nil, generation: Int? = nil,
                power: PowerPolicy? = nil, firmware: String? = nil, disk: String? = nil, kernelArgs: String? = nil,
                bios: BIOSSettings? = nil, storage: StorageSettings? = nil, allowDestructive: Bool? = nil,
                site: String? = nil, locations: [String: SourceLocation] = [:]) {
        self.hostname = hostname
        self.bmc = bmc
        self.profile = profile
        self.generation = generation
        self.power = power
        self.firmware = firmware
        self.disk = disk
        self.kernelArgs = kernelArgs
        self.bios = bios
        self.site = site
        self.storage = storage
        self.allowDestructive = allowDestructive
        self.locations = locations
    }
}

/// How to reach a machine's baseboard management controller (HPE iLO or any Redfish BMC).
public struct BMCSettings: Hashable, Sendable {
    /// `https://…` of the BMC; unique across machines, never inherited from a group.
    public var address: String?
    /// The name of a secret holding the BMC's user name and password; never the password.
    public var credentials: String?
    public var insecure: Bool?
    public var caFile: String?
    /// `sha256//BASE64` of the BMC certificate's public key; when set, it is checked instead
    /// of a CA. Per machine, like the address: never a group default.
    public var pinnedKey: String?
    /// The SHA-256 fingerprint of the BMC's certificate; when set, a certificate with exactly
    /// this fingerprint is accepted (self-signed or not) and any other refused, instead of a CA
    /// check. Per machine, like the address: never a group default.
    public var fingerprint: CertificateFingerprint?

    public init(address: String? = nil, credentials: String? = nil, insecure: Bool? = nil, caFile: String? = nil,
                pinnedKey: String? = nil, fingerprint: CertificateFingerprint? = nil) {
        self.address = address
        self.credentials = credentials
        self.insecure = insecure
        self.caFile = caFile
        self.pinnedKey = pinnedKey
        self.fingerprint = fingerprint
    }
}
