import DployApply
import DployBMC
import DployConfig
import DployController
import DployInventory
import DployPlan
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Firmware drift from observation to flash, through the applier, against the recorded-iLO
/// fixture (sushy-tools has no SimpleUpdate): three machines below their baselines on three
/// fixture BMCs, and images served on loopback.
/// - fw-fails (iLO 6, task): the BMC's task ends in Exception: that step fails with the task's message;
/// - fw-good (iLO 5, Oem.Hpe.State): flashed and followed to Complete, after fw-fails failed;
/// - fw-wrongsum: the image URL does not serve the baseline's sha256: refused, SimpleUpdate never sent.
@Suite("Firmware updates applied, against recorded iLO documents", .ownThread, .requires(.python3, .openssl))
struct FirmwareApplyTests {
    @Test("drift is planned with its image, applied by SimpleUpdate and followed; one failure stops no other machine")
    func firmwareDriftApplied() async throws {
        let good = try ILOFixture(generation: 5), failing = try ILOFixture(generation: 6), wrongSum = try ILOFixture(generation: 5)
        let lab = try TemporaryFolder(prefix: "dploy-bmc")
        for sub in ["specs", "secrets", "images/fw"] {
            try FileManager.default.createDirectory(atPath: lab.file(sub), withIntermediateDirectories: true)
        }
        try lab.write("images/fw/ilo5_308.fwpkg", String(repeating: "iLO 5 3.08 firmware\n", count: 5000), mode: 0o644)
        try lab.write("images/fw/bad_ilo6_180.fwpkg", "not really iLO 6 1.80\n", mode: 0o644)
        let sha256sum = "/usr/bin/sha256sum"
        func digest(_ name: String) throws -> String {
            String(try run(sha256sum, [lab.file("images/fw/\(name)")]).prefix(64))
        }
        let images = try await FileServer(serving: lab.file("images"), log: lab.file("images.log"))
        defer { images.stop() }
        let imageURL = "http://127.0.0.1:\(images.port)/fw"

        // One secret per fixture; fw-good trusts its BMC by certificate fingerprint, the others by CA file.
        for (name, fixture) in [("ilo-good", good), ("ilo-failing", failing), ("ilo-wrongsum", wrongSum)] {
            try lab.write("secrets/\(name).yaml", "username: \(fixture.username)\npassword: '\(fixture.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        }
        try FileManager.default.copyItem(atPath: failing.certificate.certificate, toPath: lab.file("failing-ca.pem"))
        try FileManager.default.copyItem(atPath: wrongSum.certificate.certificate, toPath: lab.file("wrongsum-ca.pem"))
        try lab.write("dploy.yaml", BMCLab.applyingConfig("bmc: {concurrency: 3, firmwareTimeout: 1m}"), mode: 0o644)
        func baseline(_ name: String, model: String, component: String, version: String, image: String, sha256: String) -> String {
            """
            apiVersion: dploy.org/v1
            kind: FirmwareBaseline
            metadata: {name: \(name)}
            spec:
              models: ["\(model)"]
              components:
                - {name: "\(component)", version: "\(version)", image: "\(imageURL)/\(image)", sha256: "\(sha256)"}
            ---

            """
        }
        func machine(_ name: String, mac: String, bmc: String, firmware: String) -> String {
            """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: \(name)}
            spec:
              mac: "\(mac)"
              firmware: \(firmware)
              bmc: {\(bmc)}
            ---

            """
        }
        let wrongDigest = String(repeating: "0", count: 64)
        try lab.write("specs/fleet.yaml",
            baseline("gen10", model: "ProLiant DL180 Gen10", component: "iLO 5", version: "3.08", image: "ilo5_308.fwpkg",
                     sha256: try digest("ilo5_308.fwpkg"))
            + baseline("gen11", model: "ProLiant DL380 Gen11", component: "iLO 6", version: "1.80", image: "bad_ilo6_180.fwpkg",
                       sha256: try digest("bad_ilo6_180.fwpkg"))
            + baseline("gen10-wrong", model: "ProLiant DL180 Gen10", component: "iLO 5", version: "3.08", image: "ilo5_308.fwpkg",
                       sha256: wrongDigest)
            + machine("fw-good", mac: "52:54:00:00:01:01", bmc: "address: \"\(good.baseURL)\", credentials: ilo-good, fingerprint: \"\(good.certificate.fingerprint)\"",
                      firmware: "gen10")
            + machine("fw-fails", mac: "52:54:00:00:01:02", bmc: "address: \"\(failing.baseURL)\", credentials: ilo-failing, caFile: failing-ca.pem",
                      firmware: "gen11")
            + machine("fw-wrongsum", mac: "52:54:00:00:01:03", bmc: "address: \"\(wrongSum.baseURL)\", credentials: ilo-wrongsum, caFile: wrongsum-ca.pem",
                      firmware: "gen10-wrong"),
            mode: 0o644)

        let config = try ControllerConfig.load(path: lab.file("dploy.yaml")).get()
        #expect(config.bmcFirmwareTimeout == .seconds(60))
        let reconciler = Reconciler(config: config, configPath: lab.file("dploy.yaml"))
        let desired = try reconciler.loadDesired()
        let read = await reconciler.observeBMCs(desired.fleet)
        #expect(read.observations.allSatisfy { $0.error == nil }, "\(read.observations.compactMap(\.error))")
        let result = try reconciler.plan(desired: desired, bmc: read)

        // The plan carries each component's image, so apply needs nothing else.
        let steps = result.plan.actions.filter { $0.kind == .updateFirmware }
        #expect(steps.map(\.machine) == ["fw-fails", "fw-good", "fw-wrongsum"])
        let goodStep = try #require(steps.first { $0.machine == "fw-good" })
        let wanted = FirmwareTarget(component: "iLO 5", installed: "2.96 Aug 17 2023", version: "3.08",
                                    image: "\(imageURL)/ilo5_308.fwpkg", sha256: try digest("ilo5_308.fwpkg"))
        #expect(goodStep == .updateFirmware(machine: "fw-good", wanted, reason: Reason(.firmwareDrift, "iLO 5 2.96 Aug 17 2023 → 3.08")))
        #expect(result.plan.text(color: false).contains("iLO 5 2.96 Aug 17 2023 → 3.08"))

        let events = EventLog()
        let actions = reconciler.bmcActions(for: desired.fleet, recordEvent: { events.append($0) })
        actions.firmwarePollInterval = .milliseconds(20)
        let applier = Applier(folders: try reconciler.folders, check: nil, dhcpConfig: nil)
        var report: Applier.Report?
        let error = #expect(throws: ApplyError.self) { report = try applier.apply(result, bmc: actions) }
        #expect(report == nil)
        guard case .bmcFailed(let failures) = error else { Issue.record("expected bmcFailed, got \(String(describing: error))"); return }
        #expect(failures.count == 2, "\(failures)")
        let failed = failures.first { $0.hasPrefix("fw-fails: ") } ?? ""
        #expect(failed.contains("failed: Exception") && failed.contains("The component could not be verified"), "\(failed)")
        let refused = failures.first { $0.hasPrefix("fw-wrongsum: ") } ?? ""
        #expect(refused.contains(try digest("ilo5_308.fwpkg")) && refused.contains(wrongDigest), "names both sums: \(refused)")
        #expect(refused.contains("was not asked"))

        // fw-good was flashed after fw-fails failed: SimpleUpdate posted, state followed to Complete.
        let posts = { (fixture: ILOFixture) async throws -> [String] in
            try await fixture.requests().filter { $0["method"]?.string == "POST" }.compactMap { $0["path"]?.string }
                .filter { $0.lowercased().contains("simpleupdate") }
        }
        #expect(try await posts(good).count == 1)
        #expect(try await posts(failing).count == 1)
        #expect(try await posts(wrongSum).isEmpty, "the BMC was never asked to flash an image with the wrong sha256")

        // One event per component, with the machine's MAC.
        let byKind = Dictionary(grouping: events.all, by: \.kind)
        #expect(byKind["firmware-updated"]?.map(\.mac) == [MACAddress("52:54:00:00:01:01")])
        #expect(byKind["firmware-updated"]?.first?.message.contains("iLO 5 2.96 Aug 17 2023 → 3.08") == true)
        #expect(Set(byKind["firmware-failed"]?.compactMap(\.mac) ?? []) == [MACAddress("52:54:00:00:01:02")!, MACAddress("52:54:00:00:01:03")!])
        for event in events.all {
            for fixture in [good, failing, wrongSum] { #expect(!event.message.contains(fixture.password)) }
        }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [MachineEvent] = []
    var all: [MachineEvent] { lock.lock(); defer { lock.unlock() }; return events }
    func append(_ event: MachineEvent) { lock.lock(); events.append(event); lock.unlock() }
}
