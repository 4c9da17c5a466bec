import Foundation

extension Hardware {
    /// What differs between an earlier report of the same machine and this one: one line
    /// per part, in a fixed order (system, CPUs, memory, DIMMs by slot, disks by name, NICs
    /// by MAC); empty when the hardware is the same. Readings that change without anyone
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
        lines += Self.parts("DIMM", earlier.memoryModules, memoryModules, key: \.slot) { module in
            [module.sizeBytes.map(Self.bytes), module.model, module.serial.map { "serial \($0)" }]
        }
        lines += Self.parts("disk", earlier.disks, disks, key: \.name) { disk in
            [disk.sizeBytes.map(Self.bytes), disk.model, disk.serial.map { "serial \($0)" }]
        }
        lines += Self.parts("NIC", earlier.nics, nics, key: \.mac) { nic in [nic.name] }
        return lines
    }

    /// Parts matched by `key`: those removed, added, or in the same place but different.
    private static func parts<Part>(_ what: String, _ old: [Part], _ new: [Part], key: (Part) -> String,
                                    describe: (Part) -> [String?]) -> [String] {
        let before = Dictionary(old.map { (key($0), describe($0).compactMap { $0 }.joined(separator: ", ")) }) { first, _ in first }
        let after = Dictionary(new.map { (key($0), describe($0).compactMap { $0 }.joined(separator: ", ")) }) { first, _ in first }
        var lines: [String] = []
        for name in Set(before.keys).union(after.keys).sorted() {
            switch (before[name], after[name]) {
            case let (old?, nil): lines.append("\(what) \(name) removed (\(old))")
            case let (nil, new?): lines.append("\(what) \(name) added (\(new))")
            case let (old?, new?) where old != new: lines.append("\(what) \(name) replaced: \(old) → \(new)")
            default: break
            }
        }
        return lines
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
