import DploySpec
import Foundation

/// Reads `lshw -json` output into `Hardware`.
///
/// Real output varies by lshw version: B.02.19+ prints one object (or, with some options,
/// an array of them); older versions print several top-level objects one after another,
/// sometimes with commas between them or before a closing bracket, which is not JSON. All
/// of these are read; what cannot be read is an error that says why.
public enum LshwReport {
    public static let maximumBytes = 4 << 20
    /// DIMMs, disks and NICs kept from one report, each: more than any server has, few
    /// enough that a hostile report cannot make every page and message huge.
    public static let maximumParts = 256

    public static func parse(_ bytes: [UInt8]) throws(InventoryError) -> Hardware {
        guard bytes.count <= maximumBytes else {
            throw InventoryError.tooLarge(bytes.count, limit: maximumBytes)
        }
        guard String(validating: bytes, as: UTF8.self) != nil else { throw InventoryError.notUTF8 }
        let roots = try topLevelNodes(bytes)
        guard roots.contains(where: { $0["class"] != nil || $0["children"] != nil }) else {
            throw InventoryError.notLshw("the top-level object has neither 'class' nor 'children'")
        }
        var nodes: [[String: Any]] = []
        for root in roots { collect(root, into: &nodes, depth: 0) }

        // With `-class` filters there is no system node: then vendor and model stay unknown.
        let system = nodes.first { $0["class"] as? String == "system" }
        var hardware = Hardware(vendor: text(system?["vendor"]), model: text(system?["product"]),
                                serial: text(system?["serial"]))
        for node in nodes where node["disabled"] as? Bool != true {
            let id = node["id"] as? String ?? ""
            switch node["class"] as? String {
            case "processor":
                // Controllers call themselves processors too ("SCSI Processor"): a CPU sits on the cpu bus.
                let isCPU = (node["businfo"] as? String).map { $0.hasPrefix("cpu@") } ?? id.hasPrefix("cpu")
                guard isCPU else { continue }
                hardware.cpus += 1
                hardware.cpuModel = hardware.cpuModel ?? text(node["product"])
            case "memory" where id == "firmware":
                hardware.biosVersion = text(node["version"])
            case "memory" where isSystemMemory(node):
                // Some firmware gives the total; some only the banks, which then add up.
                let banks = children(of: node).compactMap { number($0["size"]) }
                if let size = number(node["size"]) ?? (banks.isEmpty ? nil : sum(banks)) {
                    hardware.memoryBytes = sum([hardware.memoryBytes ?? 0, size])
                }
                // Populated banks only: an empty slot has no size.
                for bank in children(of: node) {
                    guard let size = number(bank["size"]), hardware.memoryModules.count < maximumParts else { continue }
                    let slot = text(bank["slot"]) ?? text(bank["id"]) ?? "bank \(hardware.memoryModules.count)"
                    hardware.memoryModules.append(Hardware.MemoryModule(slot: slot, sizeBytes: size, model: text(bank["product"]),
                                                                        serial: text(bank["serial"])))
                }
            case "disk":
                guard hardware.disks.count < maximumParts, let name = logicalName(node), name.hasPrefix("/dev/"),
                      !id.hasPrefix("cdrom"), !hardware.disks.contains(where: { $0.name == name }) else { continue }
                hardware.disks.append(Hardware.Disk(name: name, sizeBytes: number(node["size"]), model: text(node["product"]),
                                                    serial: text(node["serial"])))
            case "network":
                // Sanitized reports say "[REMOVED]" instead of a MAC.
                guard hardware.nics.count < maximumParts,
                      let mac = text(node["serial"]).flatMap(MACAddress.init)?.description else { continue }
                let configuration = node["configuration"] as? [String: Any]
                let link = (configuration?["link"] as? String).map { $0 == "yes" }
                hardware.nics.append(Hardware.NIC(name: logicalName(node), mac: mac, linkUp: link))
            default:
                continue
            }
        }
        return hardware
    }

    /// The top-level objects, whatever the lshw version wrapped them in.
    static func topLevelNodes(_ bytes: [UInt8]) throws(InventoryError) -> [[String: Any]] {
        if let value = try? JSONSerialization.jsonObject(with: Data(bytes)) {
            if let object = value as? [String: Any] { return [object] }
            if let array = value as? [[String: Any]] { return array }
            throw InventoryError.notLshw("the report is JSON but not an object or a list of objects")
        }
        // Older lshw: objects one after another, separated by commas or nothing, sometimes a
        // comma before a closing bracket. Split at depth 0 and drop those commas.
        var objects: [[String: Any]] = []
        for chunk in splitTopLevel(removingTrailingCommas(bytes)) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(chunk)) as? [String: Any] else {
                throw InventoryError.notLshw("not JSON, and not the concatenated objects older lshw versions print")
            }
            objects.append(object)
        }
        guard !objects.isEmpty else { throw InventoryError.notLshw("empty report") }
        return objects
    }

    /// `,` followed (after white space) by `}` or `]`, outside strings, is removed.
    static func removingTrailingCommas(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var inString = false, escaped = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            } else if byte == UInt8(ascii: ",") {
                var next = index + 1
                while next < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[next]) { next += 1 }
                if next < bytes.count, bytes[next] == UInt8(ascii: "}") || bytes[next] == UInt8(ascii: "]") {
                    index += 1
                    continue
                }
            }
            output.append(byte)
            index += 1
        }
        return output
    }

    /// The top-level `{…}` objects of a byte stream, ignoring anything between them.
    static func splitTopLevel(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var chunks: [ArraySlice<UInt8>] = []
        var depth = 0, start = 0
        var inString = false, escaped = false
        for (index, byte) in bytes.enumerated() {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"):
                if depth == 0 { start = index }
                depth += 1
            case UInt8(ascii: "}"):
                depth -= 1
                if depth == 0 { chunks.append(bytes[start...index]) }
                if depth < 0 { return [] }
            default: break
            }
        }
        return depth == 0 ? chunks : []
    }

    /// Every node below `node`, depth-first; hardware trees are shallow, but a hostile
    /// report is cut off rather than recursed into without end.
    private static func collect(_ node: [String: Any], into nodes: inout [[String: Any]], depth: Int) {
        guard depth < 32, nodes.count < 10_000 else { return }
        nodes.append(node)
        for child in children(of: node) { collect(child, into: &nodes, depth: depth + 1) }
    }

    /// The object children of a node; anything else in the list is skipped, not fatal.
    private static func children(of node: [String: Any]) -> [[String: Any]] {
        (node["children"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
    }

    /// Sizes add up without overflowing: a report claiming more than an exbibyte is capped.
    private static func sum(_ values: [Int64]) -> Int64 {
        values.reduce(0) { total, value in
            let (result, overflow) = total.addingReportingOverflow(value)
            return overflow ? Int64.max : result
        }
    }

    private static func isSystemMemory(_ node: [String: Any]) -> Bool {
        let id = node["id"] as? String ?? ""
        return id == "memory" || (id.hasPrefix("memory") && text(node["description"])?.lowercased() == "system memory")
    }

    /// A field as text fit to show: the report comes from whatever booted on the network,
    /// and its strings end up in terminals, logs, events and pages. Control characters and
    /// line separators become spaces (no forged lines, no escape sequences), and a field
    /// is cut at 200 characters.
    private static func text(_ value: Any?) -> String? {
        guard let string = value as? String else { return nil }
        let clean = String(String.UnicodeScalarView(string.unicodeScalars.prefix(200).map { scalar in
            let value = scalar.value
            let control = value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
            return control ? " " : scalar
        }))
        let trimmed = clean.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// A byte count: a whole, non-negative number below 2^60 (an exbibyte), or nothing.
    private static func number(_ value: Any?) -> Int64? {
        let parsed: Int64?
        if let number = value as? NSNumber {
            parsed = Int64(exactly: number.doubleValue)
        } else if let string = value as? String {
            parsed = Int64(string)
        } else {
            parsed = nil
        }
        guard let parsed, parsed >= 0, parsed < 1 << 60 else { return nil }
        return parsed
    }

    private static func logicalName(_ node: [String: Any]) -> String? {
        text(node["logicalname"]) ?? text((node["logicalname"] as? [Any])?.first)
    }
}

/// Why an inventory report was refused; nothing is stored for it.
public enum InventoryError: Error, Equatable, CustomStringConvertible {
    case tooLarge(Int, limit: Int)
    case notUTF8
    case notLshw(String)

    public var description: String {
        switch self {
        case .tooLarge(let size, let limit): "the report is \(size) bytes; the limit is \(limit)"
        case .notUTF8: "the report is not UTF-8 text"
        case .notLshw(let reason): "the report is not lshw -json output: \(reason)"
        }
    }
}
