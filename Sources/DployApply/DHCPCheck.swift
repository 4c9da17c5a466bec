import DployRender
import Foundation

/// Runs the DHCP server's own configuration checker on a candidate file before it replaces
/// the live one: `dnsmasq --test`, `dhcpd -t`, `kea-dhcp4 -t`, or the config's `check`.
public struct DHCPCheck: Sendable {
    public var backend: DHCPBackend
    /// A custom command from the config; `{file}` is replaced by the candidate's path.
    public var command: String?

    public init(backend: DHCPBackend, command: String?) {
        self.backend = backend
        self.command = command
    }

    /// Checks `candidate`; throws with the checker's output when it refuses.
    public func run(candidate: String, shownAs file: String) throws {
        var wrapper: String?
        defer { wrapper.map(AtomicFile.discard) }
        let script: String
        if let command {
            script = command.replacingOccurrences(of: "{file}", with: Self.quoted(candidate))
        } else {
            switch backend {
            case .dnsmasq, .dnsmasqProxy: script = "dnsmasq --test --conf-file=\(Self.quoted(candidate))"
            case .kea: script = "kea-dhcp4 -t \(Self.quoted(candidate))"
            case .isc:
                // dploy's file is an include; dhcpd checks it inside a minimal main file.
                wrapper = try AtomicFile.stage(Array("include \"\(candidate)\";\n".utf8), for: candidate + ".check")
                script = "dhcpd -t -cf \(Self.quoted(wrapper!))"
            }
        }
        let (status, output) = try Shell.run(script)
        guard status == 0 else { throw ApplyError.checkFailed(file: file, command: script, output: output) }
    }

    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

/// Runs a command line with `/bin/sh -c`, as an operator's config writes it.
enum Shell {
    static func run(_ script: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
