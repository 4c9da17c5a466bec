import DploySpec
import Foundation

/// What `dploy bmc status` shows for one machine, and what the controller stores.
public struct BMCReading: Hashable, Sendable, Codable {
    public var power: PowerState
    public var health: String?
    public var manufacturer: String?
    public var model: String?
    public var serialNumber: String?
    public var biosVersion: String?
    /// The BMC's model (`iLO 5`) and firmware (`iLO 5 v2.96`).
    public var managerModel: String?
    public var managerFirmware: String?
    /// The BMC's own web page, for the machine list (iLO has one at its address).
    public var webPage: String?
    /// The firmware inventory, when the observer was asked for it and the BMC offers one.
    public var firmware: [InstalledFirmware]?
    /// The BIOS attributes, current and pending, when the observer was asked for them.
    public var bios: BIOSReading?
    /// Why the BIOS attributes could not be read, when they were asked for and were not.
    public var biosError: String?
    /// RAID controllers and their drives, when the observer was asked for them.
    public var storage: ObservedStorage?
    /// Why the storage could not be read, when it was asked for and was not.
    public var storageError: String?
    /// How many HPE Smart Array controllers an iLO reports; nil for other BMCs, or when the
    /// count could not be read.
    public var smartArrayControllers: Int?

    public init(system: ComputerSystem, manager: Manager?, baseURL: String) {
        power = system.power
        health = system.health
        manufacturer = system.manufacturer
        model = system.model
        serialNumber = system.serialNumber
        biosVersion = system.biosVersion
        managerModel = manager?.model
        managerFirmware = manager?.firmwareVersion
        webPage = manager?.isHPE == true ? baseURL + "/" : nil
    }
}
