import DploySpec

/// What a firmware step installs: the baseline's component, carried in the plan so apply
/// needs nothing but the plan (and a saved plan shows exactly which image it would flash).
public struct FirmwareTarget: Hashable, Sendable, Codable {
    /// The component's name as the firmware inventory reports it (`System ROM`, `iLO 5`).
    public var component: String
    /// The version the BMC reported when the plan was made.
    public var installed: String
    /// The baseline's version.
    public var version: String
    /// The image URI the BMC is asked to fetch (`UpdateService.SimpleUpdate`).
    public var image: String
    /// The baseline's SHA-256 of the image, 64 lower-case hex digits.
    public var sha256: String

    public init(component: String, installed: String, version: String, image: String, sha256: String) {
        self.component = component
        self.installed = installed
        self.version = version
        self.image = image
        self.sha256 = sha256
    }

    init(_ component: FirmwareComponent, installed: String) {
        self.init(component: component.name, installed: installed, version: component.version, image: component.image,
                  sha256: component.sha256)
    }

    /// An inventory reporting `installed` for the component has the baseline's version (in
    /// iLO's words: the version, maybe followed by a date).
    public func isReached(by installed: String) -> Bool {
        FirmwareDrift.matches(installed: installed, wanted: version)
    }
}
