import DployInventory
import Foundation

/// The bytes as an agent's `lshw -json` report (`LshwReport.parse`), which comes from
/// whatever booted on the network. A refused report is fine; a read one must keep the
/// promises CONTRIBUTING.md makes ("Hardware as reported"): every string one line, trimmed,
/// non-empty and at most 200 characters; at most 256 DIMMs, disks and NICs; sizes not
/// negative; disks under /dev/. It must also survive the store's JSON round trip unchanged,
/// and compared with itself show no change.
enum LshwFuzz {
    static func run(_ bytes: [UInt8]) {
        guard let hardware = try? LshwReport.parse(bytes) else { return }
        let strings: [String?] = [hardware.vendor, hardware.model, hardware.serial, hardware.biosVersion, hardware.cpuModel]
            + hardware.memoryModules.flatMap { [$0.slot, $0.model, $0.serial] }
            + hardware.disks.flatMap { [$0.name, $0.model, $0.serial] }
            + hardware.nics.flatMap { [$0.name, $0.mac] }
        for case let text? in strings {
            FuzzCheck.require(FuzzCheck.isOneLine(text), "field is not one line: \(text.debugDescription)")
            FuzzCheck.require(text.unicodeScalars.count <= 200, "field longer than 200: \(text.unicodeScalars.count)")
            FuzzCheck.require(!text.isEmpty && text.trimmingCharacters(in: .whitespaces) == text,
                              "field empty or untrimmed: \(text.debugDescription)")
        }
        let limit = LshwReport.maximumParts
        FuzzCheck.require(hardware.memoryModules.count <= limit && hardware.disks.count <= limit && hardware.nics.count <= limit,
                          "more than \(limit) parts")
        let sizes = [hardware.memoryBytes] + hardware.memoryModules.map(\.sizeBytes) + hardware.disks.map(\.sizeBytes)
        FuzzCheck.require(sizes.allSatisfy { ($0 ?? 0) >= 0 }, "negative size")
        FuzzCheck.require(hardware.cpus >= 0, "negative CPU count")
        FuzzCheck.require(hardware.disks.allSatisfy { $0.name.hasPrefix("/dev/") }, "disk outside /dev")

        // What the store writes and reads back.
        do {
            let stored = try JSONEncoder().encode(hardware)
            let read = try JSONDecoder().decode(Hardware.self, from: stored)
            FuzzCheck.require(read == hardware, "the store's JSON changes the report")
        } catch {
            FuzzCheck.fail("the store cannot keep a report it read: \(error)")
        }
        FuzzCheck.require(hardware.changes(since: hardware).isEmpty, "a report differs from itself")
    }
}
