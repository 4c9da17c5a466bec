/// A small binary format for caches dploy persists between its own runs (the apply cache):
/// little-endian integers and length-prefixed bytes. Far faster than JSON for the tens of
/// thousands of entries a fleet's output makes, and read strictly: a short or malformed
/// input is an error, never a guess.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// A writer whose bytes start with `prefix` (a magic line), with room for `capacity` in all.
    public init(prefix: [UInt8], capacity: Int = 0) {
        bytes.reserveCapacity(max(capacity, prefix.count))
        bytes += prefix
    }

    /// Appends bytes as they are, without a length: a trailer whose size is known.
    public mutating func append(raw more: some Collection<UInt8>) { bytes.append(contentsOf: more) }

    public mutating func write(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    public mutating func write(_ value: Int64) { write(UInt64(bitPattern: value)) }

    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(bytes more: some Collection<UInt8>) {
        write(UInt64(more.count))
        bytes.append(contentsOf: more)
    }

    public mutating func write(_ text: String) { write(bytes: Array(text.utf8)) }
}

/// Reads what `ByteWriter` wrote, in the same order, from a slice of the bytes (no copy).
public struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var offset: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        offset = bytes.startIndex
    }

    public var isAtEnd: Bool { offset == bytes.endIndex }

    private var remaining: Int { bytes.endIndex - offset }

    public mutating func readUInt64() throws(PersistedBytesError) -> UInt64 {
        guard remaining >= 8 else { throw .truncated }
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[offset + index]) << UInt64(index * 8) }
        offset += 8
        return value
    }

    public mutating func readInt64() throws(PersistedBytesError) -> Int64 { Int64(bitPattern: try readUInt64()) }

    public mutating func readBool() throws(PersistedBytesError) -> Bool {
        guard remaining > 0 else { throw .truncated }
        defer { offset += 1 }
        switch bytes[offset] {
        case 0: return false
        case 1: return true
        default: throw .malformed("a flag that is neither 0 nor 1")
        }
    }

    /// A count read before that many entries: bounded by what is left, so a corrupt count
    /// cannot make a reader reserve memory for entries that are not there.
    public mutating func readCount() throws(PersistedBytesError) -> Int {
        let count = try readUInt64()
        guard count <= UInt64(remaining) else { throw .malformed("a count larger than the bytes left") }
        return Int(count)
    }

    public mutating func readBytes() throws(PersistedBytesError) -> ArraySlice<UInt8> {
        let count = try readCount()
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    public mutating func readString() throws(PersistedBytesError) -> String {
        let slice = try readBytes()
        guard let text = String(validating: slice, as: UTF8.self) else { throw .malformed("text that is not UTF-8") }
        return text
    }
}

public enum PersistedBytesError: Error, Equatable, CustomStringConvertible {
    case truncated
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated: "it ends early"
        case .malformed(let what): "it holds \(what)"
        }
    }
}
