import DployRender
import DploySpec

/// A digest of everything a plan depends on, so a saved plan can tell whether desired or
/// observed state moved since. Each file hashes on its own (path and the SHA-256 of its
/// contents, through two independent 64-bit FNV-1a) and the results are summed, so no sort of thirty thousand
/// paths is needed. Change detection, not security.
enum Fingerprint {
    static func of(desired: [OutputPath: ContentDigest], observed: ObservedState) -> String {
        var a: UInt64 = 0, b: UInt64 = 0
        func add(_ tag: UInt8, _ parts: [UInt8]...) {
            var x = Hash(seed: 0xcbf2_9ce4_8422_2325 ^ UInt64(tag)), y = Hash(seed: 0x8422_2325_cbf2_9ce4 ^ UInt64(tag))
            for part in parts {
                x.feed(part); y.feed(part)
                x.feed([0xFF]); y.feed([0xFF])
            }
            a = a &+ x.state
            b = b &+ y.state
        }
        for (path, digest) in desired { add(1, Array(path.description.utf8), digest.bytes) }
        for (path, file) in observed.files { add(2, Array(path.description.utf8), file.digest.bytes) }
        for (mac, generation) in observed.installedGenerations { add(3, Array("\(mac)=\(generation)".utf8)) }
        for (mac, power) in observed.power { add(4, Array("\(mac):\(power.rawValue)".utf8)) }
        for (run, state) in observed.taskRuns { add(5, Array(run.task.utf8), Array(run.revision.utf8), Array(run.machine.utf8), Array(state.rawValue.utf8)) }
        // Firmware and BIOS readings: a saved plan must not PATCH or flash on a reading that moved.
        for (mac, firmware) in observed.firmware {
            for (name, version) in firmware.versions { add(6, Array("\(mac)".utf8), Array(name.utf8), Array(version.utf8)) }
        }
        for (mac, bios) in observed.bios {
            for (name, value) in bios.current { add(7, Array("\(mac)".utf8), Array(name.utf8), Array(value.description.utf8)) }
            for (name, value) in bios.pending ?? [:] { add(8, Array("\(mac)".utf8), Array(name.utf8), Array(value.description.utf8)) }
        }
        // Storage: a saved plan must not delete or create on a controller that changed since.
        for (mac, storage) in observed.storage {
            for controller in storage.controllers {
                for drive in controller.logicalDrives { add(9, Array("\(mac)".utf8), Array(controller.target.utf8), Array(drive.text.utf8), Array(drive.id.utf8)) }
                for drive in controller.pending ?? [] { add(10, Array("\(mac)".utf8), Array(controller.target.utf8), Array(drive.text.utf8)) }
            }
        }
        return hex(a) + hex(b)
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    struct Hash {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func feed(_ bytes: [UInt8]) {
            var state = self.state
            for byte in bytes { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
            self.state = state
        }
    }
}
