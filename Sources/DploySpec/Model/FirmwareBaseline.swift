/// The firmware versions a set of hardware models should run, and where to get them.
public struct FirmwareBaseline: Hashable, Sendable {
    public var metadata: ObjectMeta
    /// Hardware models (as the BMC reports them, e.g. `ProLiant DL360 Gen10`) this applies to.
    public var models: [String]
    public var components: [FirmwareComponent]
    /// How it reaches its machines: canaries, waves, parallelism, window, failures tolerated.
    /// nil: every machine that drifts is flashed as soon as it is planned.
    public var rollout: RolloutPolicy?

    public var name: String { metadata.name }

    public init(metadata: ObjectMeta, models: [String], components: [FirmwareComponent], rollout: RolloutPolicy? = nil) {
        self.metadata = metadata
        self.models = models
        self.components = components
        self.rollout = rollout
    }
}

public struct FirmwareComponent: Hashable, Sendable {
    /// The component's name as the BMC's firmware inventory lists it (`System ROM`, `iLO 5`).
    public var name: String
    public var version: String
    public var image: String
    public var sha256: String

    public init(name: String, version: String, image: String, sha256: String) {
        self.name = name
        self.version = version
        self.image = image
        self.sha256 = sha256
    }
}
