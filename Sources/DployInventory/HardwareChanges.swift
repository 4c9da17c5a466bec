import Foundation

extension Hardware {
    /// What differs between an earlier report of the same machine and this one: one line
    /// per part, in a fixed order (system, CPUs, memory, DIMMs by slot, disks by serial or
    /// name, NICs by MAC); empty when the hardware is the same. Readings that change without anyone
    /// touching the machine (a NIC's link, the BIOS version after a firmware update) are
    /// not hardware changes.
    public func changes(since earlier: Hardware) -> [String] {
        var lines: [String] = []
        func compare(_ what: String, _ old: String?, _ new: String?) {
            if old != new { lines.append("\(what) \(old ?? "unknown") → \(new ?? "unknown")") }
        }
        compare("vendor", earlier.vendor, vendor)
        compare("model", earlier.model, model)
        compare("system serial", earlier.serial, serial)
        if earlier.cpus != cpus { lines.append("CPUs \(earlier.cpus) → \(cpus)") }
        compare("CPU model", earlier.cpuModel, cpuModel)
        compare("memory", earlier.memoryBytes.map(Self.bytes), memoryBytes.map(Self.bytes))
        // A report stored before DIMMs were read lists none: that is not a change.
        if !earlier.memoryModules.isEmpty {
            lines += Self.parts("DIMM", earlier.memoryModules, memoryModules, key: \.slot) { module, withSerial in
                [module.sizeBytes.map(Self.bytes), module.model, withSerial ? module.serial.map { "serial \($0)" } : nil]
            }
        }
        // Device names can move between boots; serials cannot. Disks are matched by serial
        // when both reports give one for every disk, else by name, and a serial counts only
        // when both sides have one (reports stored before serials were read have none).
        let bySerial = !disks.isEmpty && !earlier.disks.isEmpty && (disks + earlier.disks).allSatisfy { $0.serial != nil }
        lines += Self.parts("disk", earlier.disks, disks, key: { bySerial ? "serial \($0.serial ?? "")" : $0.name }) { disk, withSerial in
            [bySerial ? disk.name : nil, disk.sizeBytes.map(Self.bytes), disk.model, withSerial && !bySerial ? disk.serial.map { "serial \($0)" } : nil]
        }
        lines += Self.parts("NIC", earlier.nics, nics, key: \.mac) { nic, _ in [nic.name] }
        return lines
    }

    /// Parts matched by `key`: those removed, added, or in the same place but different.
    /// `describe` says what to compare; its flag is whether serials count (both sides have one).
    private static func parts<Part: SerialNumbered>(_ what: String, _ old: [Part], _ new: [Part], key: (Part) -> String,
                                                    describe: (Part, Bool) -> [String?]) -> [String] {
        let before = Dictionary(old.map { (key($0), $0) }) { first, _ in first }
        let after = Dictionary(new.map { (key($0), $0) }) { first, _ in first }
        func text(_ part: Part, serials: Bool) -> String { describe(part, serials).compactMap { $0 }.joined(separator: ", ") }
        var lines: [String] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case let (old?, nil): lines.append("\(what) \(name) removed (\(text(old, serials: true)))")
            case let (nil, new?): lines.append("\(what) \(name) added (\(text(new, serials: true)))")
            case let (old?, new?):
                let serials = old.serial != nil && new.serial != nil
                let (was, now) = (text(old, serials: serials), text(new, serials: serials))
                if was != now { lines.append("\(what) \(name) replaced: \(was) → \(now)") }
            default: break
            }
        }
        return lines
    }

    /// At most `limit` lines, then how many more: what a condition, an event or a page shows.
    public static func summary(_ changes: [String], limit: Int = 20) -> [String] {
        changes.count <= limit ? changes : changes.prefix(limit) + ["and \(changes.count - limit) more changes"]
    }

    /// `32 GiB`, `240.1 GB` would be vendor-speak; binary units with one decimal when needed.
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(count), unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? "\(Int(rounded)) \(units[unit])" : "\(rounded) \(units[unit])"
    }
}

/// Parts that may carry a serial number, so a comparison can leave serials out when one
/// side has none.
protocol SerialNumbered { var serial: String? { get } }
extension Hardware.MemoryModule: SerialNumbered {}
extension Hardware.Disk: SerialNumbered {}
extension Hardware.NIC: SerialNumbered { var serial: String? { mac } }
