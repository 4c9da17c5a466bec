import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `dploy discover export` writes what an unauthenticated machine reported into a file an
/// operator commits: nothing in the report may become YAML of its own.
@Suite("A discovered machine's export", .ownThread)
struct MachineExportTests {
    @Test("a report with Unicode line breaks exports as exactly one Machine, its text escaped in the comment")
    func hostileReport() throws {
        // libyaml ends a line (and so the comment the report is quoted in) at U+2028, U+2029,
        // NEL and CR as well as LF: each of these used to start YAML of the report's choosing.
        let vendor = "HPE\u{2028}---\u{2028}kind: Task\u{2028}metadata: {name: off}"
        let model = "ProLiant DL360 Gen10\u{85}x: 1\u{2029}y: 2\r\u{1B}[2J\u{FEFF}"
        let machine = ObservedMachine(mac: try #require(MACAddress("94:18:82:00:00:01")), firstSeen: Date(), lastSeen: Date(),
                                      address: "198.18.0.21", state: .discovered,
                                      hardware: Hardware(vendor: vendor, model: model))
        let text = MachineExport.document(for: machine)

        #expect(text.split(separator: "\n").first
                == #"# Discovered by dploy: HPE\u2028---\u2028kind: Task\u2028metadata: {name: off} ProLiant DL360 Gen10\x85x: 1\u2029y: 2\r\x1b[2J\ufeff"#)
        // Every line break in the file is one the export meant.
        #expect(text.unicodeScalars.allSatisfy { $0 == "\n" || (0x20...0x7E).contains($0.value) }, "\(text.debugDescription)")

        let result = SpecLoader().load([SpecFile(path: "discovered.yaml", text: text)])
        #expect(result.diagnostics.isEmpty, "\(result.diagnostics)")
        #expect(result.documentCount == 1)
        #expect(result.fleet.tasks.isEmpty && result.fleet.groups.isEmpty && result.fleet.profiles.isEmpty)
        let exported = try #require(result.fleet.machines.first)
        #expect(result.fleet.machines.count == 1)
        #expect(exported.name == "proliant-dl360-gen10-x-1-y-2-2j-0001")
        #expect(exported.metadata.labels == ["vendor": "hpe-----kind--task-metadata---name--off",
                                             "model": "proliant-dl360-gen10-x--1-y--2---2j"])
        #expect(exported.mac.value.description == "94:18:82:00:00:01")
        #expect(exported.ip?.value.description == "198.18.0.21")
    }
}
