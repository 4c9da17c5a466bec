@testable import DployBMC
import DployConfig
import DploySpec
import DployTestSupport
import Foundation
import Synchronization
import Testing

/// Against Fixtures/ilo_fixture.py, which replays recorded iLO 5 documents (and an iLO 6
/// variant) and models what sushy-tools lacks. Covers: session login, token use, logout on
/// close, re-login after expiry, login refusal; status reading (model, serial, BIOS, iLO
/// version, web page); firmware inventory expanded (iLO 5) and by links without Updateable
/// (iLO 6); SimpleUpdate followed through Oem.Hpe.State (iLO 5) and through a task that
/// vanishes when done (iLO 6), success and failure; boot override PATCH with If-Match;
/// virtual media under the manager by PATCH; BIOS attributes through a lower-case link;
/// 503 with Retry-After; power mapped onto iLO's allowed reset types.
@Suite("Redfish against recorded iLO documents", .ownThread, .requires(.python3, .openssl))
struct ILOFixtureTests {
    @Test("iLO 5: session login, status reading, logout on close; no basic auth sent", arguments: [5, 6])
    func sessionAndReading(generation: Int) async throws {
        let ilo = try ILOFixture(generation: generation)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let reading = try await client.reading()
        #expect(reading.power == .on)
        #expect(reading.model == (generation == 5 ? "ProLiant DL180 Gen10" : "ProLiant DL380 Gen11"))
        #expect(reading.biosVersion == "U31 v1.00 (03/11/2017)")
        #expect(reading.managerModel == "iLO \(generation)")
        #expect(reading.managerFirmware == (generation == 5 ? "iLO 5 v1.15" : "iLO 6 v1.76"))
        #expect(reading.webPage == ilo.baseURL + "/")
        #expect(try await ilo.openSessions() == 1)
        await client.close()
        #expect(try await ilo.openSessions() == 0)
        let requests = try await ilo.requests()
        let basic = requests.filter { $0["basic"]?.bool == true && $0["path"]?.string?.hasPrefix("/redfish") == true }
        #expect(basic.count == 0)
        #expect(requests.contains { $0["method"]?.string == "DELETE" })
    }

    @Test("An expired session is replaced by a new login, once, and the request succeeds")
    func reloginAfterExpiry() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        #expect(try await client.power() == .on)
        try await ilo.control("/_fixture/expire-sessions", .object([:]))
        #expect(try await client.power() == .on)
        let logins = try await ilo.requests().filter { $0["method"]?.string == "POST" && $0["path"]?.string?.lowercased().contains("sessions") == true }
        #expect(logins.count == 2)
    }

    @Test("A refused login names the user and iLO's message, never the password")
    func refusedLogin() async throws {
        let ilo = try ILOFixture()
        let wrong = "wrong-\(UUID().uuidString.prefix(8))"
        let client = RedfishClient(endpoint: try ilo.endpoint(password: wrong), options: quickOptions())
        let error = await #expect(throws: BMCError.self) { try await client.reading() }
        #expect(error?.kind == .unauthorized)
        #expect(error?.description.contains("Administrator") == true)
        #expect(error?.description.contains("NoValidSession") == true)
        #expect(error?.description.contains(wrong) == false)
    }

    @Test("Firmware inventory: iLO 5 expanded, iLO 6 by links and without Updateable")
    func firmwareInventory() async throws {
        let ilo5 = try ILOFixture(generation: 5)
        let five = try await RedfishClient(endpoint: try ilo5.endpoint(), options: quickOptions()).firmwareInventory()
        #expect(five.map(\.name).prefix(2) == ["iLO 5", "System ROM"])
        #expect(five.first { $0.name == "System ROM" }?.version == "U30 v2.90 (07/20/2023)")
        #expect(five.allSatisfy { $0.updateable == true })
        #expect(five.first?.deviceContext == "System Board")

        let ilo6 = try ILOFixture(generation: 6)
        let six = try await RedfishClient(endpoint: try ilo6.endpoint(), options: quickOptions()).firmwareInventory()
        #expect(six.count == 5)
        #expect(six.first?.name == "iLO 6")
        #expect(six.allSatisfy { $0.updateable == nil })
    }

    @Test("The observer reads the firmware inventory with the status when asked, for firmware baselines")
    func observerReadsFirmware() async throws {
        let ilo = try ILOFixture(generation: 5)
        let secrets = try TemporaryFolder(prefix: "dploy-bmc")
        try secrets.write("ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        let observer = BMCObserver(secrets: SecretStore(folder: secrets.path), baseDirectory: secrets.path,
                                   options: quickOptions(), readsFirmware: true)
        let observation = await observer.read("db-01", BMCSettings(address: ilo.baseURL, credentials: "ilo",
                                                                   caFile: ilo.certificate.certificate))
        let reading = try #require(observation.reading)
        #expect(reading.model == "ProLiant DL180 Gen10")
        #expect(reading.firmware?.first { $0.name == "System ROM" }?.version == "U30 v2.90 (07/20/2023)")
        #expect(try await ilo.openSessions() == 0, "logged out after reading")
    }

    @Test("iLO 5 SimpleUpdate without a task: followed through Oem.Hpe.State to Complete, with progress")
    func simpleUpdateILO5() async throws {
        let ilo = try ILOFixture(generation: 5)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let seen = ProgressLog()
        let result = try await client.updateFirmware(imageURI: "http://198.18.0.1:8080/fw/ilo5_308.fwpkg", timeout: .seconds(30),
                                                     interval: .milliseconds(20)) { seen.append($0) }
        #expect(result.phase == .completed)
        #expect(seen.all.map(\.state).contains("Writing"))
        #expect(seen.all.compactMap(\.percent).contains(80))
        // The recorded document says Complete before the update starts: not taken as done.
        #expect(seen.all.first?.state != "Complete")

        let failing = await #expect(throws: BMCError.self) {
            try await client.updateFirmware(imageURI: "http://198.18.0.1:8080/fw/bad.fwpkg", timeout: .seconds(30), interval: .milliseconds(20))
        }
        #expect(failing?.kind == .taskFailed)
        #expect(failing?.description.contains("Error") == true)
    }

    @Test("iLO 6 SimpleUpdate: a task followed to Completed; a failed task is an error; a vanished task is not 'running'")
    func simpleUpdateILO6() async throws {
        let ilo = try ILOFixture(generation: 6)
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        let seen = ProgressLog()
        let result = try await client.updateFirmware(imageURI: "http://198.18.0.1:8080/fw/ilo6_176.fwpkg", timeout: .seconds(30),
                                                     interval: .milliseconds(20)) { seen.append($0) }
        #expect(result.phase == .completed)
        #expect(result.percent == 100)
        #expect(seen.all.compactMap(\.percent).contains(60))
        // The task is gone now (404 ResourceMissingAtURI): the answer comes from UpdateService.
        let after = try await client.updateProgress(.task("/redfish/v1/TaskService/Tasks/22/"))
        #expect(after.phase != .running)

        let failing = await #expect(throws: BMCError.self) {
            try await client.updateFirmware(imageURI: "http://198.18.0.1:8080/fw/bad.fwpkg", timeout: .seconds(30), interval: .milliseconds(20))
        }
        #expect(failing?.kind == .taskFailed)
        #expect(failing?.description.contains("could not be verified") == true)
    }

    @Test("Boot once from PXE sends the ETag as If-Match; the override reads back Pxe/Once")
    func bootOnceWithETag() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        try await client.bootOnce(from: .pxe)
        let system = try await client.system()
        #expect(system.bootOverrideTarget == "Pxe")
        #expect(system.bootOverrideEnabled == "Once")
        let patch = try await ilo.requests().first { $0["method"]?.string == "PATCH" }
        #expect(patch?["ifMatch"]?.string == "W/\"0E79655D\"")
    }

    @Test("Virtual media under the manager: inserted and ejected by PATCH (no standard action on iLO 5)")
    func virtualMediaILO() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        try await client.insertVirtualMedia("http://198.18.0.1:8080/images/rescue.iso", bootOnNextReset: true)
        let media = try await client.virtualMedia()
        #expect(media.inserted)
        #expect(media.image == "http://198.18.0.1:8080/images/rescue.iso")
        #expect(RedfishPath.same(media.path, "/redfish/v1/Managers/1/VirtualMedia/2"))
        #expect(try await client.get(media.path)[path: "Oem", "Hpe", "BootOnNextServerReset"]?.bool == true)
        try await client.ejectVirtualMedia()
        #expect(try await client.virtualMedia().inserted == false)
    }

    @Test("BIOS attributes are read through the system's lower-case link", arguments: [5, 6])
    func biosAttributes(generation: Int) async throws {
        let ilo = try ILOFixture(generation: generation)
        let attributes = try await RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions()).biosAttributes()
        #expect(attributes["BootMode"]?.string == "Uefi")
        #expect(attributes["NetworkBootRetryCount"]?.int == 20)
    }

    @Test("503 with Retry-After is waited out and retried")
    func retryAfter() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions(attempts: 4))
        #expect(try await client.power() == .on)
        try await ilo.control("/_fixture/fail-next", .object(["status": .number(503), "retryAfter": .number(1), "count": .number(2)]))
        #expect(try await client.power() == .on)
        let systemReads = try await ilo.requests().filter { RedfishPath.same($0["path"]?.string ?? "", "/redfish/v1/Systems/") }
        #expect(systemReads.count >= 3, "the collection was read once, then twice refused and once more")
    }

    @Test("503 more often than the attempts allow is an error saying so")
    func retriesExhausted() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions(attempts: 2))
        #expect(try await client.power() == .on)
        try await ilo.control("/_fixture/fail-next", .object(["status": .number(503), "retryAfter": .number(0), "count": .number(5)]))
        let error = await #expect(throws: BMCError.self) { try await client.power() }
        #expect(error?.status == 503)
    }

    @Test("Power on iLO: cycle becomes ForceRestart (no PowerCycle offered), off is ForceOff")
    func powerILO() async throws {
        let ilo = try ILOFixture()
        let client = RedfishClient(endpoint: try ilo.endpoint(), options: quickOptions())
        #expect(try await client.setPower(.cycle).resetType == "ForceRestart")
        #expect(try await client.setPower(.off).resetType == "ForceOff")
        #expect(try await client.power() == .off)
        #expect(try await client.setPower(.cycle).resetType == "On", "a cycle of a machine that is off turns it on")
    }

    @Test("mayChange false: power and boot requests are refused unsent, by name; reads go on")
    func mayChangeGate() async throws {
        let ilo = try ILOFixture()
        let leading = Mutex(true)
        var options = quickOptions()
        options.mayChange = { leading.withLock { $0 } }
        let driver = BMCDriver(endpoint: try ilo.endpoint(), options: options)
        #expect(try driver.setPower(.cycle).resetType == "ForceRestart")
        leading.withLock { $0 = false }
        let power = #expect(throws: BMCError.self) { try driver.setPower(.off) }
        #expect(power?.kind == .notLeading)
        #expect(power?.description.contains("not sent (off (ForceOff)): this dploy no longer leads its store") == true, "\(power.map(String.init(describing:)) ?? "")")
        let boot = #expect(throws: BMCError.self) { try driver.bootOnce(from: .pxe) }
        #expect(boot?.kind == .notLeading)
        #expect(try driver.power() == .on, "reads are not gated")
        let changes = try await ilo.requests().filter { ["POST", "PATCH"].contains($0["method"]?.string ?? "") && !($0["path"]?.string ?? "").lowercased().contains("sessions") }
        #expect(changes.count == 1, "only the reset sent while leading: \(changes)")
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [UpdateProgress] = []
    var all: [UpdateProgress] { lock.lock(); defer { lock.unlock() }; return items }
    func append(_ item: UpdateProgress) { lock.lock(); items.append(item); lock.unlock() }
}
