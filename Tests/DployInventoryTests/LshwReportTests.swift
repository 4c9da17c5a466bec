import DployInventory
import DployTestSupport
import Foundation
import Testing

@Suite("lshw -json reports", .ownThread)
struct LshwReportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/lshw")

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static let qemu = "debian12-virtio-vm-lshw-02.19-git20210619-sanitized.json"

    @Test("a Debian 12 VM as lshw B.02.19 reports it (sanitized: no serials, no MACs)")
    func qemuVM() throws {
        let hardware = try LshwReport.parse(try Self.fixture(Self.qemu))
        #expect(hardware.memoryBytes == 25_769_803_776)
        #expect(hardware.cpus == 1)
        #expect(hardware.cpuModel == "AMD EPYC")
        #expect(hardware.disks.map(\.name) == ["/dev/vda"])
        #expect(hardware.nics.isEmpty, "sanitized output has no MACs to report")
    }

    @Test("the same VM with -class filters: a list of nodes, no system node")
    func classFiltered() throws {
        let hardware = try LshwReport.parse(try Self.fixture("debian12-virtio-vm-lshw-02.19-git20210619-class-filter-sanitized.json"))
        #expect(hardware.vendor == nil && hardware.model == nil)
        #expect(hardware.memoryBytes == 25_769_803_776)
        #expect(hardware.cpus == 1)
        #expect(hardware.disks.map(\.name) == ["/dev/vda"])
    }

    @Test("a Dell PowerEdge R6515 (lshw B.02.18.85, from metal-toolbox/ironlib): a SCSI 'processor' is not a CPU")
    func dell() throws {
        let hardware = try LshwReport.parse(try Self.fixture("dell-poweredge-r6515-lshw-B.02.18.85-reformatted.json"))
        #expect(hardware.vendor == "Dell Inc.")
        #expect(hardware.model == "PowerEdge R6515 (SKU=NotProvided;ModelName=PowerEdge R6515)")
        #expect(hardware.serial == "11WLK93")
        #expect(hardware.biosVersion == "1.7.4")
        #expect(hardware.cpus == 1)
        #expect(hardware.cpuModel == "AMD EPYC 7502P 32-Core Processor")
        #expect(hardware.memoryBytes == 274_877_906_944)
        #expect(hardware.disks.map(\.name) == ["/dev/nvme0n1", "/dev/nvme1n1", "/dev/sda", "/dev/sdb"])
        #expect(hardware.disks.first?.sizeBytes == 3_840_755_982_336)
        #expect(hardware.nics == [
            Hardware.NIC(name: "enp65s0f0", mac: "40:a6:b7:4e:8a:a0", linkUp: true),
            Hardware.NIC(name: "enp65s0f1", mac: "40:a6:b7:4e:8a:a0", linkUp: true),
        ])
    }

    @Test("an ASRock Rack board in a Packet server (B.02.18.85, ironlib): a list at the top, bonds, virtual media")
    func asrockRack() throws {
        let hardware = try LshwReport.parse(try Self.fixture("asrockrack-e3c246d4i-nl-lshw-B.02.18.85.json"))
        #expect(hardware.vendor == "Packet")
        #expect(hardware.model == "c3.small.x86 (To Be Filled By O.E.M.)")
        #expect(hardware.serial == "D5S0R8000105")
        #expect(hardware.biosVersion == "L2.07B")
        #expect(hardware.cpus == 1)
        #expect(hardware.cpuModel == "Intel(R) Xeon(R) E-2278G CPU @ 3.40GHz")
        #expect(hardware.memoryBytes == 34_359_738_368)
        #expect(hardware.disks.map(\.name) == ["/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sdd"], "the cdrom is not a disk; media repeat their disk")
        #expect(hardware.disks.first?.sizeBytes == 480_103_981_056)
        #expect(hardware.nics.map(\.name) == ["eno1", "eno2", "bond0"], "the disabled USB NIC is left out")
        #expect(Set(hardware.nics.map(\.mac)) == ["b4:96:91:70:26:c8"])
    }

    @Test("the same report as a list, and as older lshw's objects with stray commas, reads the same")
    func olderShapes() throws {
        let text = String(decoding: try Self.fixture(Self.qemu), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let expected = try LshwReport.parse(Array(text.utf8))
        #expect(try LshwReport.parse(Array("[\n\(text)\n]\n".utf8)) == expected)
        // Older versions: a comma after the object, and before closing brackets.
        let closing = "}]"
        #expect(text.contains(closing), "the fixture has a child list to break")
        let sloppy = text.replacingOccurrences(of: closing, with: "},\n]") + ",\n"
        #expect(sloppy.contains("},\n]"))
        #expect(throws: (any Error).self) { try JSONSerialization.jsonObject(with: Data(sloppy.utf8)) }
        #expect(try LshwReport.parse(Array(sloppy.utf8)) == expected)
        // Two objects one after the other, as lshw printed for several top-level nodes.
        #expect(try LshwReport.parse(Array((text + "\n" + text).utf8)).cpus == expected.cpus * 2)
    }

    @Test("bad reports are refused with a reason", arguments: [
        ("not json at all", "not lshw -json output"),
        ("[1, 2, 3]", "not an object or a list of objects"),
        ("{\"foo\": 1}", "neither 'class' nor 'children'"),
        ("", "not lshw -json output"),
    ])
    func refused(_ body: String, _ reason: String) {
        do {
            _ = try LshwReport.parse(Array(body.utf8))
            Issue.record("'\(body)' must be refused")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }

    @Test("absurd numbers and odd children neither crash nor count")
    func absurd() throws {
        let report = """
            {"id": "x", "class": "system", "children": [
              {"id": "memory", "class": "memory", "description": "System Memory", "children": [
                {"id": "bank:0", "class": "memory", "size": 9223372036854775807},
                {"id": "bank:1", "class": "memory", "size": 9223372036854775807}]},
              {"id": "memory:1", "class": "memory", "description": "System Memory", "size": 1e30},
              {"id": "disk", "class": "disk", "logicalname": "/dev/sda", "size": -5},
              {"id": "network", "class": "network", "serial": "not-a-mac-address"},
              7, "text", null,
              {"id": "cpu", "class": "processor", "businfo": "cpu@0", "product": "Xeon"}]}
            """
        let hardware = try LshwReport.parse(Array(report.utf8))
        #expect(hardware.memoryBytes == nil, "no believable size was reported")
        #expect(hardware.disks == [Hardware.Disk(name: "/dev/sda", sizeBytes: nil, model: nil)])
        #expect(hardware.nics.isEmpty)
        #expect(hardware.cpus == 1, "siblings of non-objects are still read")
    }

    @Test("oversized and non-UTF-8 reports are refused before parsing")
    func limits() {
        #expect(throws: InventoryError.tooLarge(LshwReport.maximumBytes + 1, limit: LshwReport.maximumBytes)) {
            try LshwReport.parse([UInt8](repeating: 0x20, count: LshwReport.maximumBytes + 1))
        }
        #expect(throws: InventoryError.notUTF8) { try LshwReport.parse([0x7B, 0xFF, 0x7D]) }
    }
}
