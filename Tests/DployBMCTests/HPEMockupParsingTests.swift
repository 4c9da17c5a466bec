@testable import DployBMC
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// HPE's own recordings of three ProLiants (../shared/fixtures/hpe-ilo-mockups, read in
/// place), read by the resource parsers, no server involved: what a real iLO 6 v1.66 and
/// two iLO 5 v3.x send for the system, the manager, the update service, the firmware
/// inventory and the BIOS with its pending settings.
@Suite("Parsing HPE's recorded iLO 6 and iLO 5 trees", .ownThread, .requiresHPEMockups)
struct HPEMockupParsingTests {
    struct Model: Sendable, CustomTestStringConvertible {
        var tree: URL
        var model: String
        var serial: String
        var systemETag: String
        var ilo: String
        var iloVersion: String
        var systemROM: String
        var inventoryCount: Int
        var registry: String
        var attributeCount: Int
        var biosETag: String
        var testDescription: String { model }
    }

    static let models: [Model] = [
        Model(tree: HPEMockups.dl380aGen11, model: "ProLiant DL380a Gen11 -- SIMULATED", serial: "2M2D2J00L4",
              systemETag: "W/\"8198DD1D\"", ilo: "iLO 6", iloVersion: "iLO 6 v1.66", systemROM: "U58 v2.44 (01/17/2025)",
              inventoryCount: 34, registry: "BiosAttributeRegistryU58.v1_2_44", attributeCount: 300,
              biosETag: "W/\"53C98A84524ABDBDBDE255AE8E30023D\""),
        // SOURCE.md calls it a DL360 Gen10; the recording says Gen10 Plus (U46 is its ROM family).
        Model(tree: HPEMockups.dl360Gen10Plus, model: "ProLiant DL360 Gen10 Plus - SIMULATED", serial: "MXQ2390RHW",
              systemETag: "W/\"DBFAAF9C\"", ilo: "iLO 5", iloVersion: "iLO 5 v3.11", systemROM: "U46 v2.34 (03/11/2025)",
              inventoryCount: 23, registry: "BiosAttributeRegistryU46.v1_2_34", attributeCount: 276,
              biosETag: "W/\"58DAC9B28DCF707070CA7DC90D957149\""),
        Model(tree: HPEMockups.dl365Gen10Plus, model: "ProLiant DL365 Gen10 Plus -- SIMULATED", serial: "MXQ2370DLQ",
              systemETag: "W/\"7A60FCF2\"", ilo: "iLO 5", iloVersion: "iLO 5 v3.14", systemROM: "A42 v3.72 (05/16/2025)",
              inventoryCount: 22, registry: "BiosAttributeRegistryA42.v1_3_72", attributeCount: 255,
              biosETag: "W/\"026DE1F940BD4040409D7097330D3D7C\""),
    ]

    func read(_ model: Model, _ path: String) throws -> JSONValue {
        try JSONValue(parsing: try HPEMockups.document(model.tree, path))
    }

    @Test("ComputerSystem: model, serial, power, BIOS version, reset types, boot targets, links as recorded", arguments: models)
    func system(model: Model) throws {
        let system = ComputerSystem(json: try read(model, "Systems/1"))
        #expect(system.model == model.model)
        #expect(system.serialNumber == model.serial)
        #expect(system.manufacturer == "HPE")
        #expect(system.power == .on)
        #expect(system.health == "OK")
        #expect(system.biosVersion == model.systemROM)
        #expect(system.etag == model.systemETag)
        // The recordings spell the Bios link in lower case and without the trailing slash
        // the Bios document's own @odata.id has, and the reset target in capitals.
        #expect(system.biosPath == "/redfish/v1/systems/1/bios")
        #expect(system.resetTarget == "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset")
        #expect(system.managers == ["/redfish/v1/Managers/1"])
        #expect(system.resetTypes == ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton", "GracefulRestart"])
        #expect(RedfishClient.resetType(for: .cycle, allowed: system.resetTypes) == "ForceRestart")
        #expect(system.bootTargets?.contains("Pxe") == true && system.bootTargets?.contains("UefiHttp") == true)
        #expect(system.bootOverrideEnabled == "Disabled")
        #expect(system.virtualMediaPath == nil, "virtual media hangs off the manager on iLO 5 and 6 alike")
    }

    @Test("Manager: iLO generation and version, HPE, virtual media link", arguments: models)
    func manager(model: Model) throws {
        let manager = Manager(json: try read(model, "Managers/1"))
        #expect(manager.model == model.ilo)
        #expect(manager.firmwareVersion == model.iloVersion)
        #expect(manager.isHPE)
        #expect(manager.health == "OK")
        #expect(manager.virtualMediaPath == "/redfish/v1/Managers/1/VirtualMedia")
        #expect(BMCReading(system: ComputerSystem(json: try read(model, "Systems/1")), manager: manager,
                           baseURL: "https://198.18.0.121").webPage == "https://198.18.0.121/")
    }

    @Test("UpdateService: SimpleUpdate offered, iLO's own state Idle with no progress, not taken as a finished update",
          arguments: models)
    func updateService(model: Model) throws {
        let service = try read(model, "UpdateService")
        #expect(service[path: "Actions", "#UpdateService.SimpleUpdate", "target"]?.string
                == "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate")
        #expect(service["FirmwareInventory"]?.link == "/redfish/v1/UpdateService/FirmwareInventory")
        let state = try #require(UpdateProgress(hpeUpdateService: service))
        #expect(state.state == "Idle")
        #expect(state.percent == nil)
        #expect(state.message == nil, "no Result before any update")
        #expect(state.phase != .completed && state.phase != .failed)
    }

    @Test("FirmwareInventory: links only, each member read on its own; same-named parts told apart by DeviceContext",
          arguments: models)
    func firmwareInventory(model: Model) throws {
        let collection = try read(model, "UpdateService/FirmwareInventory")
        let links = collection["Members"]?.array?.compactMap(\.link) ?? []
        #expect(links.count == model.inventoryCount)
        #expect(collection["Members"]?.array?.allSatisfy { $0["Version"] == nil } == true, "not expanded")
        let members = try links.map { link in
            InstalledFirmware(json: try read(model, String(link.dropFirst("/redfish/v1/".count))))
        }
        #expect(members.count == model.inventoryCount)
        #expect(members[0].id == "1")
        #expect(members[0].name == model.ilo)
        #expect(model.iloVersion.hasSuffix(String(members[0].version.prefix(4))), "\(members[0].version)")
        #expect(members[0].updateable == true)
        #expect(members[0].deviceContext == "System Board")
        #expect(members.first { $0.name == "System ROM" }?.version == model.systemROM)
        #expect(members.allSatisfy { !$0.version.isEmpty && !$0.name.isEmpty })
        let supplies = members.filter { $0.name == "Power Supply Firmware" }
        #expect(supplies.count >= 2)
        #expect(Set(supplies.compactMap(\.deviceContext)).count == supplies.count, "one per bay")
        // Some parts cannot be updated through iLO (TPM, GPUs): said, not guessed.
        #expect(members.contains { $0.updateable == false })
    }

    @Test("Bios: every attribute a string or an integer, the registry, the settings object, the last apply's messages",
          arguments: models)
    func bios(model: Model) throws {
        let json = try read(model, "Systems/1/bios")
        let bios = BiosResource(json: json)
        #expect(bios.path == "/redfish/v1/systems/1/bios/")
        #expect(bios.names.count == model.attributeCount)
        #expect(bios.attributes.count == model.attributeCount, "no attribute dploy cannot read")
        #expect(bios.attributeRegistry == model.registry)
        #expect(bios.settingsPath == "/redfish/v1/systems/1/bios/settings/")
        #expect(bios.settingsMessages == ["Base.1.0.Success"])
        #expect(bios.etag == model.biosETag)
        #expect(bios.attributes["NetworkBootRetryCount"] == .integer(20))
        #expect(bios.attributes["Sriov"] == .string("Enabled"))
        #expect(bios.attributes.values.allSatisfy { if case .boolean = $0 { false } else { true } }, "HPE BIOS has no booleans")
    }

    @Test("Bios/Settings: the pending resource, the same attributes; its ETag is Oem.Hpe's UnmodifiedETag when nothing is pending",
          arguments: models)
    func biosSettings(model: Model) throws {
        let current = BiosResource(json: try read(model, "Systems/1/bios"))
        let json = try read(model, "Systems/1/bios/settings")
        let pending = BiosResource(json: json)
        #expect(json["Name"]?.string == "BIOS Pending Settings")
        #expect(pending.path == current.settingsPath)
        #expect(pending.settingsPath == nil, "the pending resource points nowhere further")
        #expect(pending.attributeRegistry == current.attributeRegistry)
        #expect(pending.attributes == current.attributes, "nothing pending in the recordings")
        let etag = try #require(pending.etag)
        #expect(etag.hasPrefix("W/\"") && etag.utf8.count <= 63, "weak, within iLO's 63 bytes")
        #expect(try read(model, "Systems/1/bios")[path: "Oem", "Hpe", "SettingsObject", "UnmodifiedETag"]?.string == etag)
        let reading = BIOSReading(current: current, pending: pending)
        #expect(reading.pending == reading.current)
        #expect(reading.names.count == model.attributeCount)
    }

    @Test("@Redfish.Settings.Messages: MessageId and MessageID both read (HPE docs and proliantutils spell it both ways)")
    func settingsMessageSpellings() throws {
        let json = JSONValue.object([
            "@odata.id": .string("/redfish/v1/systems/1/bios/"),
            "Attributes": .object(["ProcHyperthreading": .string("Enabled"), "Broken": .null, "Half": .number(2.5)]),
            "@Redfish.Settings": .object(["Messages": .array([
                .object(["MessageId": .string("Base.1.0.Success")]),
                .object(["MessageID": .string("Base.1.0:PropertyNotWritable")]),
            ])]),
        ])
        let bios = BiosResource(json: json)
        #expect(bios.settingsMessages == ["Base.1.0.Success", "Base.1.0:PropertyNotWritable"])
        #expect(bios.names == ["ProcHyperthreading", "Broken", "Half"])
        #expect(bios.attributes == ["ProcHyperthreading": .string("Enabled")], "null and 2.5 are listed but not values dploy sets")
    }
}
