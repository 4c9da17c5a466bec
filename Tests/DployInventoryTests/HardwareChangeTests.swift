import DployTestSupport
import GRDB
@testable import DployInventory
import DploySpec
import Foundation
import Testing

/// A machine that reports different hardware than last time (a DIMM or a disk swapped)
/// is noticed: the store keeps what changed, records an event, and the next identical
/// report clears it. From two real lshw reports of one Dell R6515.
@Suite("Hardware changes between reports", .ownThread)
struct HardwareChangeTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-hardware-\(UUID().uuidString)")
    let mac = MACAddress("94:18:82:3a:5c:10")!
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    static let dell = "dell-poweredge-r6515-lshw-B.02.18.85-reformatted.json"

    /// The Dell's report, after DIMM A3 (serial 3510CC97) and disk /dev/sdb (serial
    /// 203329F89796) were swapped for parts of the same model and size.
    static func swappedReport() throws -> [UInt8] {
        let text = String(decoding: try LshwReportTests.fixture(dell), as: UTF8.self)
        #expect(text.components(separatedBy: "3510CC97").count == 2 && text.components(separatedBy: "203329F89796").count == 2)
        return Array(text.replacingOccurrences(of: "3510CC97", with: "4410AA01")
            .replacingOccurrences(of: "203329F89796", with: "211045B10020").utf8)
    }

    @Test("lshw's DIMM banks and disk serials are read: populated slots only")
    func modulesAndSerials() throws {
        let hardware = try LshwReport.parse(try LshwReportTests.fixture(Self.dell))
        #expect(hardware.memoryModules.count == 8, "A1–A8 hold DIMMs; A9–A16 are empty")
        #expect(hardware.memoryModules.first == Hardware.MemoryModule(slot: "A1", sizeBytes: 34_359_738_368,
                                                                       model: "HMA84GR7DJR4N-XN", serial: "3510CB7F"))
        #expect(hardware.disks.first { $0.name == "/dev/sdb" }?.serial == "203329F89796")
    }

    @Test("a second report with a DIMM and a disk swapped is a hardware change; the same report again is not")
    func swapNoticed() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("dploy.db").path)
        let first = try LshwReport.parse(try LshwReportTests.fixture(Self.dell))
        let swapped = try LshwReport.parse(try Self.swappedReport())

        try store.recordHardware(mac, first, at: t0)
        #expect(try store.machine(mac)?.hardwareChanges == [], "a first report changes nothing")

        try store.recordHardware(mac, swapped, at: t0 + 3600)
        let changes = try #require(try store.machine(mac)?.hardwareChanges)
        #expect(changes == [
            "DIMM A3 replaced: 32 GiB, HMA84GR7DJR4N-XN, serial 3510CC97 → 32 GiB, HMA84GR7DJR4N-XN, serial 4410AA01",
            "disk /dev/sdb replaced: 223.6 GiB, MTFDDAV240TDU, serial 203329F89796 → 223.6 GiB, MTFDDAV240TDU, serial 211045B10020",
        ])
        let event = try #require(try store.events(for: mac, limit: 10).first { $0.kind == "hardware-changed" })
        #expect(event.message == changes.joined(separator: "; ") && event.at == t0 + 3600)
        #expect(try store.machines().first?.hardwareChanges == changes, "the fleet listing carries it too")

        try store.recordHardware(mac, swapped, at: t0 + 7200)
        #expect(try store.machine(mac)?.hardwareChanges == [])
    }

    @Test("a removed DIMM and an added disk are named as such")
    func addedAndRemoved() throws {
        var before = Hardware(cpus: 2, memoryBytes: 68_719_476_736,
                              memoryModules: [.init(slot: "A1", sizeBytes: 34_359_738_368), .init(slot: "A2", sizeBytes: 34_359_738_368)],
                              disks: [.init(name: "/dev/sda", sizeBytes: 240_057_409_536, model: "MTFDDAV240TDU", serial: "1")])
        before.nics = [.init(name: "eno1", mac: "94:18:82:3a:5c:10", linkUp: true)]
        var after = before
        after.memoryModules.removeLast()
        after.memoryBytes = 34_359_738_368
        after.disks.append(.init(name: "/dev/sdb", sizeBytes: 480_103_981_056, model: "MTFDDAV480TDU", serial: "2"))
        after.nics[0].linkUp = false
        after.biosVersion = "2.1.0"
        #expect(after.changes(since: before) == [
            "memory 64 GiB → 32 GiB",
            "DIMM A2 removed (32 GiB)",
            "disk serial 2 added (/dev/sdb, 447.1 GiB, MTFDDAV480TDU)",
        ], "a NIC's link and the BIOS version are not hardware")
    }

    @Test("a report stored before DIMMs and serials were read, then the same machine again, is no change")
    func olderReportIsNoChange() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStore(path: folder.appendingPathComponent("dploy.db").path)
        var old = try LshwReport.parse(try LshwReportTests.fixture(Self.dell))
        old.memoryModules = []
        old.disks = old.disks.map { Hardware.Disk(name: $0.name, sizeBytes: $0.sizeBytes, model: $0.model) }
        try store.recordHardware(mac, old, at: t0)
        try store.recordHardware(mac, try LshwReport.parse(try LshwReportTests.fixture(Self.dell)), at: t0 + 60)
        #expect(try store.machine(mac)?.hardwareChanges == [])
    }

    @Test("disks that swap device names between boots are matched by serial: a rename is no replacement")
    func disksBySerial() throws {
        let before = Hardware(disks: [.init(name: "/dev/sda", sizeBytes: 1 << 40, model: "A", serial: "S1"),
                                      .init(name: "/dev/sdb", sizeBytes: 1 << 40, model: "B", serial: "S2")])
        var after = before
        after.disks = [.init(name: "/dev/sda", sizeBytes: 1 << 40, model: "B", serial: "S2"),
                       .init(name: "/dev/sdb", sizeBytes: 1 << 40, model: "A", serial: "S1")]
        #expect(after.changes(since: before) == [
            "disk serial S1 replaced: /dev/sda, 1 TiB, A → /dev/sdb, 1 TiB, A",
            "disk serial S2 replaced: /dev/sdb, 1 TiB, B → /dev/sda, 1 TiB, B",
        ], "named by what moved, not reported as two new disks")
        after.disks[0] = .init(name: "/dev/sda", sizeBytes: 1 << 40, model: "B", serial: "S9")
        #expect(after.changes(since: before).contains("disk serial S2 removed (/dev/sdb, 1 TiB, B)"))
        #expect(after.changes(since: before).contains("disk serial S9 added (/dev/sda, 1 TiB, B)"))
    }

    @Test("a hostile report cannot forge lines or escape sequences, nor make messages huge")
    func hostileReport() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let evil = "EVIL\nDIMM A9 removed (32 GiB, serial FAKE)\u{1B}[31mRED\u{1B}[0m\u{07}\u{2028}x"
        let banks: [[String: Any]] = (0..<3000).map { ["id": "bank:\($0)", "class": "memory", "size": 1024, "serial": $0 == 0 ? evil : "S\($0)"] }
        let disks: [[String: Any]] = (0..<4000).map { ["id": "disk:\($0)", "class": "disk", "logicalname": "/dev/sd\($0)", "size": 1024] }
        let memory: [String: Any] = ["id": "memory", "class": "memory", "description": "System Memory", "children": banks]
        let system: [String: Any] = ["id": "x", "class": "system", "product": "ProLiant\u{1B}[2J", "children": [memory] + disks]
        let report = try JSONSerialization.data(withJSONObject: system)
        let hardware = try LshwReport.parse(Array(report))
        #expect(hardware.memoryModules.count == LshwReport.maximumParts && hardware.disks.count == LshwReport.maximumParts)
        #expect(hardware.model == "ProLiant [2J")
        let serial = try #require(hardware.memoryModules.first?.serial)
        #expect(!serial.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x2028 }, "\(serial)")

        let store = try SQLiteStore(path: folder.appendingPathComponent("dploy.db").path)
        try store.recordHardware(mac, Hardware(cpus: 1, memoryModules: [.init(slot: "bank:0", sizeBytes: 1024, serial: "S0")]), at: t0)
        try store.recordHardware(mac, hardware, at: t0 + 60)
        let changes = try #require(try store.machine(mac)?.hardwareChanges)
        // model, CPUs, memory, DIMM bank:0 replaced and 255 added, 256 disks added: 515 lines, 20 shown.
        #expect(changes.count == 21 && changes.last == "and 495 more changes")
        #expect(changes.allSatisfy { !$0.contains("\n") && !$0.contains("\u{1B}") })
    }

    @Test("a store from v3 migrates: hardware stored without DIMMs still reads, with no change recorded")
    func migratesFromV3() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("dploy.db").path
        let v3 = try DatabaseQueue(path: path)
        try StoreSchema.migrator.migrate(v3, upTo: "v3: task runs")
        try v3.write { db in
            try db.execute(sql: "INSERT INTO machine (mac, firstSeen, lastSeen, state) VALUES (?, ?, ?, 'discovered')",
                           arguments: [mac.description, t0, t0])
            try db.execute(sql: "INSERT INTO hardware (mac, reportedAt, json) VALUES (?, ?, ?)", arguments: [
                mac.description, t0,
                #"{"cpus":2,"disks":[{"name":"/dev/sda","sizeBytes":240057409536}],"nics":[],"memoryBytes":68719476736}"#,
            ])
        }
        try v3.close()
        let store = try SQLiteStore(path: path)
        let machine = try #require(try store.machine(mac))
        #expect(machine.hardware == Hardware(cpus: 2, memoryBytes: 68_719_476_736, disks: [.init(name: "/dev/sda", sizeBytes: 240_057_409_536)]))
        #expect(machine.hardwareChanges == [])

        try store.recordBMCReadings([BMCRecord(mac: mac, readAt: t0, power: "On",
                                               firmware: ObservedFirmware(model: "ProLiant DL360 Gen10", versions: ["iLO 5": "3.08"]))])
        #expect(try store.bmcReadings()[mac]?.firmware == ObservedFirmware(model: "ProLiant DL360 Gen10", versions: ["iLO 5": "3.08"]))
    }
}
