import DployRender
import DploySpec

/// A digest of everything a plan depends on, so a saved plan can tell whether desired or
/// observed state moved since. Two independent 64-bit FNV-1a hashes: change detection,
/// not security.
enum Fingerprint {
    static func of(desired: [OutputPath: [UInt8]], observed: ObservedState) -> String {
        var a = Hash(seed: 0xcbf2_9ce4_8422_2325), b = Hash(seed: 0x8422_2325_cbf2_9ce4)
        func feed(_ bytes: some Sequence<UInt8>) { a.feed(bytes); b.feed(bytes) }
        for (tag, files) in [("desired", desired), ("observed", observed.files)] {
            feed(tag.utf8)
            for (path, contents) in files.sorted(by: { $0.key < $1.key }) {
                feed(path.description.utf8)
                feed([0])
                feed(contents)
                feed([0xFF])
            }
        }
        for (mac, generation) in observed.installedGenerations.sorted(by: { $0.key < $1.key }) {
            feed("\(mac)=\(generation);".utf8)
        }
        for (mac, power) in observed.power.sorted(by: { $0.key < $1.key }) { feed("\(mac):\(power.rawValue);".utf8) }
        return a.hex + b.hex
    }

    struct Hash {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func feed(_ bytes: some Sequence<UInt8>) {
            for byte in bytes { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
        }
        var hex: String { String(repeating: "0", count: 16 - String(state, radix: 16).count) + String(state, radix: 16) }
    }
}
