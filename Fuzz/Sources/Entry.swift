import Foundation

/// The parsers and renderers `make fuzz` feeds, one per run: libFuzzer owns the command
/// line, so the target is named in `DPLOY_FUZZ_TARGET`.
///
/// A target treats a thrown error or a refused input as the right answer. It stops the
/// process (`FuzzCheck.fail`) only when an invariant breaks, so libFuzzer saves the input
/// as a crash; crashes and hangs of the code itself are caught by libFuzzer directly.
enum FuzzTarget: String, CaseIterable {
    case spec, lshw, redfish, boot

    static let selected: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["DPLOY_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("dploy-fuzz: set DPLOY_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(2)
        }
        return target
    }()

    func run(_ bytes: [UInt8]) {
        switch self {
        case .spec: SpecFuzz.run(bytes)
        case .lshw: LshwFuzz.run(bytes)
        case .redfish: RedfishFuzz.run(bytes)
        case .boot: BootFuzz.run(bytes)
        }
    }
}

/// libFuzzer's entry point, called once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}

/// How a target reports a broken invariant: a message libFuzzer's log keeps, then a crash.
enum FuzzCheck {
    static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fail(message()) }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("dploy-fuzz: invariant broken: \(message)\n".utf8))
        fatalError("invariant broken")
    }

    /// No control character and no line separator: what may go on one line of a script,
    /// a log or a terminal.
    static func isOneLine(_ text: some StringProtocol) -> Bool {
        !text.unicodeScalars.contains { scalar in
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
        }
    }
}
