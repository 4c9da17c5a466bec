@testable import DployBMC
import DploySpec
import DployTestSupport
import Foundation
import Testing

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

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
        let openssl = try Tool.openssl.require()
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

/// Python's http.server on 127.0.0.1, serving `folder`: it binds port 0 and the test reads
/// the port it printed, so it never uses a port the server does not hold.
final class FileServer: @unchecked Sendable {
    let port: Int
    private let child: ChildProcess

    init(serving folder: String, log: String) async throws {
        child = try ChildProcess(try Tool.python3.require(),
                                 ["-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", folder, "0"], log: log)
        let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        // "Serving HTTP on 127.0.0.1 port N (http://127.0.0.1:N/) ...", printed once it listens.
        guard try await eventually(30, { reportedPort(in: logText(), line: "Serving HTTP on") != nil }),
              let port = reportedPort(in: logText(), line: "Serving HTTP on") else {
            child.stop()
            throw ToolFailure(message: "http.server did not start: \(logText())")
        }
        self.port = port
    }

    func stop() { child.stop() }
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
