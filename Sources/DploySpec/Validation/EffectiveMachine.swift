/// A machine as dploy will treat it: its own settings, with group defaults filling the gaps.
public struct EffectiveMachine: Hashable, Sendable {
    public var machine: Machine
    /// Names of the groups the machine belongs to, sorted.
    public var groups: [String]
    public var settings: MachineSettings
    /// Where each set field's value came from, keyed by field path (`profile`, `bmc.credentials`),
    /// and each entry of a map field (`bios.attributes.ProcHyperthreading`): from the machine or
    /// the group the whole map came from.
    public var origins: [String: ValueOrigin]

    public var name: String { machine.name }
    public var generation: Int { settings.generation ?? 0 }
    public var power: PowerPolicy { settings.power ?? .unmanaged }
    /// The site whose controller converges this machine.
    public var site: String { settings.site ?? Site.defaultName }
}

public enum ValueOrigin: Hashable, Sendable {
    /// Written on the machine itself.
    case machine(SourceLocation)
    /// A default of the named group.
    case group(String, SourceLocation)
}

/// One inheritable field of `MachineSettings`, for merging and for showing where a value came from.
struct SettingField: Sendable {
    let path: String
    /// The value as text, for messages and `dploy machine`.
    let read: @Sendable (MachineSettings) -> String?
    /// Whether two settings hold the same value, compared as values (not as text: a BIOS
    /// attribute's `20` and `"20"` differ).
    let same: @Sendable (MachineSettings, MachineSettings) -> Bool
    let copy: @Sendable (inout MachineSettings, MachineSettings) -> Void
    /// Whether the field is a map whose entries are located one by one (`bios.attributes.NAME`
    /// in `MachineSettings.locations`).
    var hasEntries = false

    /// Where each entry of this map field was written in `settings`, by its field path.
    func entries(of settings: MachineSettings) -> [String: SourceLocation] {
        settings.locations.filter { $0.key.hasPrefix(path + ".") }
    }

    init<Value: CustomStringConvertible & Equatable & Sendable>(_ path: String, _ keyPath: WritableKeyPath<MachineSettings, Value?> & Sendable,
                                                                 hasEntries: Bool = false) {
        self.path = path
        self.hasEntries = hasEntries
        read = { $0[keyPath: keyPath].map(String.init(describing:)) }
        same = { $0[keyPath: keyPath] == $1[keyPath: keyPath] }
        copy = { $0[keyPath: keyPath] = $1[keyPath: keyPath] }
    }

    init<Value: CustomStringConvertible & Equatable & Sendable>(bmc path: String, _ keyPath: WritableKeyPath<BMCSettings, Value?> & Sendable) {
        self.path = "bmc." + path
        read = { $0.bmc?[keyPath: keyPath].map(String.init(describing:)) }
        same = { $0.bmc?[keyPath: keyPath] == $1.bmc?[keyPath: keyPath] }
        copy = { target, source in
            var bmc = target.bmc ?? BMCSettings()
            bmc[keyPath: keyPath] = source.bmc?[keyPath: keyPath]
            target.bmc = bmc
        }
    }

    static let inheritable: [SettingField] = [
        SettingField("hostname", \.hostname),
        SettingField("profile", \.profile),
        SettingField("generation", \.generation),
        SettingField("power", \.power),
        SettingField("firmware", \.firmware),
        SettingField("disk", \.disk),
        SettingField("kernelArgs", \.kernelArgs),
        SettingField("bios.attributes", \.bios, hasEntries: true),
        SettingField("site", \.site),
        SettingField("storage.logicalDrives", \.storage),
        SettingField("allowDestructive", \.allowDestructive),
        SettingField(bmc: "credentials", \.credentials),
        SettingField(bmc: "insecure", \.insecure),
        SettingField(bmc: "caFile", \.caFile),
    ]
}

extension PowerPolicy: CustomStringConvertible {
    public var description: String { rawValue }
}

extension EffectiveMachine {
    /// Every inheritable field that has a value, by field path.
    public var inheritedFieldValues: [String: String] {
        var values: [String: String] = [:]
        for field in SettingField.inheritable { values[field.path] = field.read(settings) }
        return values
    }
}
