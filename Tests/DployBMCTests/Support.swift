@testable import DployBMC
import DploySpec
import Foundation
import Testing

let integrationRequired = ProcessInfo.processInfo.environment["DPLOY_REQUIRE_INTEGRATION"] == "1"

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The absolute path of `name` on PATH, if it is there.
func onPath(_ name: String) -> String? {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let path = "\(folder)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

let sushyAvailable = onPath("sushy-emulator") != nil && onPath("openssl") != nil && pythonHas("bcrypt")
let fixtureToolsAvailable = onPath("python3") != nil && onPath("openssl") != nil

func pythonHas(_ module: String) -> Bool {
    guard let python = onPath("python3") else { return false }
    return (try? run(python, ["-c", "import \(module)"])) != nil
}

/// Runs a tool to completion; throws with its stderr when it fails.
@discardableResult
func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    if let input {
        let pipe = Pipe()
        process.standardInput = pipe
        try process.run()
        pipe.fileHandleForWriting.write(Data(input.utf8))
        try pipe.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    let text = output.fileHandleForReading.readDataToEndOfFile()
    let problems = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw ToolFailure(message: "\(tool) \(arguments.joined(separator: " ")): \(String(decoding: problems, as: UTF8.self))")
    }
    return String(decoding: text, as: UTF8.self)
}

struct ToolFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// A temporary folder, removed when the test is done.
final class TemporaryFolder: @unchecked Sendable {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-bmc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String, mode: Int = 0o600) throws {
        try Data(text.utf8).write(to: url.appendingPathComponent(name))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: file(name))
    }
}

/// A self-signed certificate for 127.0.0.1 made with the openssl CLI, the pin of its key and
/// its fingerprint.
struct TestCertificate {
    let certificate: String
    let key: String
    /// `sha256//BASE64` of the public key, as curl's CURLOPT_PINNEDPUBLICKEY takes it.
    let pin: String
    /// The certificate's SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
    let fingerprint: String

    init(in folder: TemporaryFolder, name: String = "bmc") throws {
        let openssl = onPath("openssl") ?? "/usr/bin/openssl"
        certificate = folder.file("\(name).crt")
        key = folder.file("\(name).key")
        try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                          "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=127.0.0.1",
                          "-addext", "subjectAltName=IP:127.0.0.1"])
        let publicKey = try run(openssl, ["x509", "-in", certificate, "-pubkey", "-noout"])
        let der = folder.file("\(name).pub.der")
        try run(openssl, ["pkey", "-pubin", "-outform", "der", "-out", der], input: publicKey)
        // The digest is binary: let openssl base64 it before it passes through a String.
        let base64 = try run("/bin/sh", ["-c", "\(openssl) dgst -sha256 -binary '\(der)' | \(openssl) base64 -A"])
        pin = "sha256//" + base64.trimmingCharacters(in: .whitespacesAndNewlines)
        // "sha256 Fingerprint=AB:CD:…", exactly what an operator copies.
        let printed = try run(openssl, ["x509", "-in", certificate, "-noout", "-fingerprint", "-sha256"])
        fingerprint = String(printed.split(separator: "=").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A free TCP port on loopback (bound, read and released; the tiny race is acceptable in tests).
func freePort() throws -> Int {
    let text = try run(onPath("python3") ?? "/usr/bin/python3",
                       ["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
    guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw ToolFailure(message: "no port") }
    return port
}

/// A loopback TCP port held bound but never listened on, for a BMC that is down: a
/// connection to it is refused, and no other test's server can take the port while this
/// lives (a port found free and let go can be handed to a parallel test's emulator).
final class RefusingPort: @unchecked Sendable {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else {
            if fd >= 0 { close(fd) }
            throw ToolFailure(message: "no port to hold: \(String(cString: strerror(errno)))")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A child process the test started; stopped (by its own pid) when the test is done.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let output = Pipe()

    init(_ tool: String, _ arguments: [String], log: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    /// The first line the process printed (the fixture prints "PORT n").
    func firstLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first, first != 10 else { break }
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// SIGKILL, by the child's own pid: children started from a Swift concurrency thread
    /// inherit its signal mask, in which SIGTERM is blocked, so `terminate()` would never land.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Options for tests: short waits so failure paths finish quickly.
func quickOptions(attempts: Int = 3) -> RedfishOptions {
    var options = RedfishOptions()
    options.connectTimeout = .seconds(3)
    options.timeout = .seconds(20)
    options.attempts = attempts
    options.backoff = .milliseconds(20)
    options.maxBackoff = .milliseconds(100)
    options.maxRetryAfter = .seconds(2)
    return options
}

/// Collects warnings so a test can count them.
final class WarningLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
}
