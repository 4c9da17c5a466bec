/// A set of machines, chosen by labels and/or by name, that share defaults.
public struct Group: Hashable, Sendable {
    public var metadata: ObjectMeta
    /// Machines whose labels contain all of these pairs belong to the group.
    public var selector: [String: String]?
    /// Machines named here belong to the group whatever their labels.
    public var members: [Located<String>]
    /// Settles conflicting defaults between groups: the higher priority wins.
    public var priority: Int
    public var defaults: MachineSettings
    /// How the BIOS and RAID settings of `defaults` reach the members that take them
    /// (`bios.attributes`, `storage.logicalDrives`): the rollout `group/NAME`. nil: at once.
    public var rollout: RolloutPolicy?

    public var name: String { metadata.name }

    public init(metadata: ObjectMeta, selector: [String: String]? = nil, members: [Located<String>] = [],
                priority: Int = 0, defaults: MachineSettings = MachineSettings(), rollout: RolloutPolicy? = nil) {
        self.metadata = metadata
        self.selector = selector
        self.members = members
        self.priority = priority
        self.defaults = defaults
        self.rollout = rollout
    }
}
