@testable import DployBMC
import DployTestSupport
import Foundation
import Testing

func recorded(_ name: String) throws -> JSONValue {
    try JSONValue(parsing: Array(try Data(contentsOf: fixtures.appendingPathComponent("ilo5/\(name)"))))
}

/// The recorded iLO 5 documents (Fixtures/ilo5, sources in Fixtures/SOURCES.md) read by the
/// resource parsers, no server involved.
@Suite("Parsing recorded iLO documents", .ownThread)
struct ParsingTests {
    @Test("ComputerSystem: power, model, BIOS, reset types, boot targets, links as spelled")
    func system() throws {
        let system = ComputerSystem(json: try recorded("system.json"))
        #expect(system.power == .on)
        #expect(system.model == "ProLiant DL180 Gen10")
        #expect(system.manufacturer == "HPE")
        #expect(system.biosVersion == "U31 v1.00 (03/11/2017)")
        #expect(system.health == "OK")
        #expect(system.resetTypes == ["On", "ForceOff", "ForceRestart", "Nmi", "PushPowerButton"])
        #expect(system.bootTargets?.contains("Pxe") == true)
        #expect(system.bootTargets?.contains("UefiHttp") == true)
        #expect(system.biosPath == "/redfish/v1/systems/1/bios/")
        #expect(system.managers == ["/redfish/v1/Managers/1/"])
        #expect(system.etag == "W/\"0E79655D\"")
    }

    @Test("Manager: iLO generation and version, HPE, virtual media link")
    func manager() throws {
        let manager = Manager(json: try recorded("manager.json"))
        #expect(manager.model == "iLO 5")
        #expect(manager.firmwareVersion == "iLO 5 v1.15")
        #expect(manager.isHPE)
        #expect(manager.virtualMediaPath == "/redfish/v1/Managers/1/VirtualMedia/")
    }

    @Test("Firmware inventory members; a member without Status still parses")
    func firmware() throws {
        let members = try recorded("firmware_inventory.json")["Members"]?.array ?? []
        let components = members.map(InstalledFirmware.init(json:))
        #expect(components.count == 5)
        #expect(components[0].name == "iLO 5")
        #expect(components[0].version == "2.96 Aug 17 2023")
        #expect(components[2].health == nil)
        #expect(components[2].id == "3")
    }

    @Test("iLO 5 UpdateService state and a Redfish task")
    func updateStates() throws {
        let service = try #require(UpdateProgress(hpeUpdateService: try recorded("update_service.json")))
        #expect(service.phase == .completed)
        #expect(service.message == "Base.1.0.Success")
        let running = UpdateProgress(task: .object(["TaskState": .string("Running"), "PercentComplete": .number(42)]))
        #expect(running.phase == .running)
        #expect(running.percent == 42)
        let failed = UpdateProgress(task: .object(["TaskState": .string("Completed"), "TaskStatus": .string("Critical")]))
        #expect(failed.phase == .failed)
    }

    @Test("a BMC job's tracking text: written and read back, rows of earlier versions still read, anything else refused")
    func trackingText() {
        typealias Tracking = RedfishClient.UpdateTracking
        let kept: [Tracking] = [.task("/redfish/v1/TaskService/Tasks/22/"), .task("/redfish/v1/Task Monitor/7"), .none,
                                .hpeUpdateService("/redfish/v1/UpdateService/", before: "Complete"), .hpeUpdateService("/redfish/v1/UpdateService/")]
        for tracking in kept { #expect(Tracking(text: tracking.text) == tracking, "\(tracking.text)") }
        #expect(Tracking(text: "hpe /redfish/v1/UpdateService/") == .hpeUpdateService("/redfish/v1/UpdateService/", before: nil), "as dploy wrote it before")
        // Only a settled state is kept: a word after " from " that is none is part of nothing dploy wrote.
        #expect(Tracking(text: "hpe /redfish/v1/UpdateService/ from Writing") == .hpeUpdateService("/redfish/v1/UpdateService/ from Writing"))
        for text in ["", "task", "task relative/path", "hpe", "ftp /x", "none "] { #expect(Tracking(text: text) == nil, "\(text)") }
    }

    @Test("Virtual media: the CD/DVD drive, empty Image means not inserted")
    func virtualMedia() throws {
        let json = try recorded("vmedia.json")
        #expect(json["MediaTypes"]?.strings == ["CD", "DVD"])
        #expect(json["Inserted"]?.bool == false)
        #expect(json[path: "Oem", "Hpe", "BootOnNextServerReset"]?.bool == false)
    }

    @Test("Reset types are chosen from what the BMC allows")
    func resetMapping() {
        let ilo = ["On", "ForceOff", "ForceRestart", "Nmi", "PushPowerButton"]
        #expect(RedfishClient.resetType(for: .on, allowed: ilo) == "On")
        #expect(RedfishClient.resetType(for: .off, allowed: ilo) == "ForceOff")
        #expect(RedfishClient.resetType(for: .cycle, allowed: ilo) == "ForceRestart")
        #expect(RedfishClient.resetType(for: .cycle, allowed: ["On", "ForceOff", "PowerCycle"]) == "PowerCycle")
        #expect(RedfishClient.resetType(for: .cycle, allowed: nil) == "PowerCycle")
        #expect(RedfishClient.resetType(for: .cycle, allowed: ["On", "ForceOff"]) == nil)
    }

    @Test("Paths compare without case or trailing slash")
    func paths() {
        #expect(RedfishPath.same("/redfish/v1/systems/1/bios", "/redfish/v1/Systems/1/Bios/"))
        #expect(!RedfishPath.same("/redfish/v1/Systems/1", "/redfish/v1/Systems/10"))
        #expect(RedfishPath.isWithin("/redfish/v1/Systems/1/", "/redfish/v1/systems"))
        #expect(!RedfishPath.isWithin("/redfish/v1/SystemsX", "/redfish/v1/Systems"))
    }

    @Test("Addresses: base URL, a system named in the path, a bad address refused")
    func endpoints() throws {
        let plain = try BMCEndpoint(address: "https://ilo-web-01.example.net", username: "u", password: "p")
        #expect(plain.baseURL == "https://ilo-web-01.example.net")
        #expect(plain.systemPath == nil)
        let named = try BMCEndpoint(address: "https://127.0.0.1:8000/redfish/v1/Systems/abc", username: "u", password: "p")
        #expect(named.baseURL == "https://127.0.0.1:8000")
        #expect(named.systemPath == "/redfish/v1/Systems/abc")
        #expect(throws: BMCError.self) { try BMCEndpoint(address: "ilo-web-01", username: "u", password: "p") }
        #expect(!"\(plain)".contains("p\""))
    }

    @Test("Secrets are redacted from messages")
    func redaction() {
        let redact = Redactor(secrets: ["hunter2"])
        #expect(redact("login failed for hunter2 at x") == "login failed for <redacted> at x")
    }
}

@Test("dump() of an endpoint shows no password", .ownThread)
func endpointDumpHidesPassword() throws {
    var text = ""
    dump(try BMCEndpoint(address: "https://198.18.0.121", username: "admin", password: "hunter2"), to: &text)
    #expect(!text.contains("hunter2"))
    #expect(text.contains("198.18.0.121"))
}
