import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("dploy machines and dploy store backup", .ownThread)
struct MachinesCommandTests {
    let cli = CommandLineTests()

    @Test("machines lists desired and observed side by side, strangers included; backup copies the store")
    func machinesAndBackup() throws {
        let lab = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-machines-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CommandLineTests.repositoryRoot.appendingPathComponent("examples/lab"), to: lab)
        defer { try? FileManager.default.removeItem(at: lab) }
        try? FileManager.default.removeItem(at: lab.appendingPathComponent("state"))

        let none = try cli.dploy("store", "backup", "copy.db", in: lab)
        #expect(none.status == 1)
        #expect(none.stderr == "error: there is no store yet; nothing to back up\n")

        let store = try SQLiteStore(path: lab.appendingPathComponent("state/dploy.db").path)
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let web02 = try #require(MACAddress("94:18:82:3a:5c:2e"))
        try store.installStarted(web02, generation: 1, at: at)
        try store.installFinished(web02, generation: 1, at: at)
        try store.recordHardware(try #require(MACAddress("94:18:82:99:00:01")),
                                 Hardware(vendor: "HPE", model: "ProLiant DL380 Gen10", cpus: 2), at: at)

        let run = try cli.dploy("machines", in: lab)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("NAME") == true)
        #expect(lines.contains { $0.hasPrefix("web-02") && $0.contains("installed") && $0.contains("1/1") })
        #expect(lines.contains { $0.hasPrefix("web-01") && $0.contains("never seen") && $0.contains("-/0") })
        #expect(lines.contains { $0.hasPrefix("(not in git)") && $0.contains("94:18:82:99:00:01") && $0.contains("ProLiant DL380 Gen10") })

        let json = try cli.dploy("machines", "--json", in: lab)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 9)
        // web-02 installed its generation; the lab reads no BMC, so power is not known and it is not Ready yet.
        let web02Row = try #require(rows.first { $0["name"] as? String == "web-02" })
        let conditions = try #require(web02Row["conditions"] as? [[String: Any]])
        let installed = try #require(conditions.first { $0["type"] as? String == "Installed" })
        #expect(installed["status"] as? String == "True" && installed["reason"] as? String == "generationInstalled")
        #expect(conditions.first?["type"] as? String == "Ready" && conditions.first?["status"] as? String == "Unknown")
        #expect(web02Row["lastSeen"] as? String == "2026-11-18T11:06:40Z", "dates as in /v1/machines: ISO 8601")
        #expect(lines.contains { $0.hasPrefix("web-02") && $0.contains("Unknown (bmcNotRead)") })

        let backup = try cli.dploy("store", "backup", "copy.db", in: lab)
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(try SQLiteStore(path: lab.appendingPathComponent("copy.db").path).installedGenerations() == [web02: 1])
        // The stranger, exported, is a valid Machine document.
        let export = try cli.dploy("discover", "export", "94:18:82:99:00:01", in: lab)
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("  name: proliant-dl380-gen10-0001\n"))
        #expect(export.stdout.contains("  labels: {vendor: \"hpe\", model: \"proliant-dl380-gen10\"}"))
        let parsed = SpecLoader().load([SpecFile(path: "exported.yaml", text: export.stdout)])
        #expect(parsed.isValid, "\(parsed.diagnostics)")
        // A report cannot smuggle YAML into the export.
        try store.recordHardware(try #require(MACAddress("94:18:82:99:00:03")),
                                 Hardware(vendor: "Acme\n---\napiVersion: dploy.org/v1", model: "1.10", cpus: 1), at: at)
        let hostile = try cli.dploy("discover", "export", "94:18:82:99:00:03", in: lab)
        let hostileParsed = SpecLoader().load([SpecFile(path: "hostile.yaml", text: hostile.stdout)])
        #expect(hostileParsed.isValid, "\(hostileParsed.diagnostics)")
        #expect(hostileParsed.documentCount == 1)

        let unseen = try cli.dploy("discover", "export", "94:18:82:99:00:02", in: lab)
        #expect(unseen.status == 1)
        #expect(unseen.stderr == "error: dploy has not seen 94:18:82:99:00:02\n")

        let again = try cli.dploy("store", "backup", "copy.db", in: lab)
        #expect(again.status == 1)
        #expect(again.stderr.contains("already exists; a backup never overwrites a file"))
    }
}
