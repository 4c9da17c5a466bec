@testable import DployBMC
import DployTestSupport
import Foundation

/// sushy-tools' emulator with its fake driver, on 127.0.0.1 and the port it binds (0: the kernel's choice, read from its log), over HTTPS with
/// a certificate made for the test, bcrypt basic auth (cost 4, so each request stays fast)
/// and a fresh state folder (its state survives restarts and would win over the config).
final class SushyEmulator: @unchecked Sendable {
    let folder: TemporaryFolder
    let certificate: TestCertificate
    let port: Int
    let username = "admin"
    let password: String
    let systems: [String]
    private let child: ChildProcess

    var baseURL: String { "https://127.0.0.1:\(port)" }

    /// Starts the emulator and waits (bounded) until it has printed the port it listens on.
    init(systems count: Int = 1, power: String = "Off") async throws {
        folder = try TemporaryFolder(prefix: "dploy-bmc")
        certificate = try TestCertificate(in: folder)
        password = "pw-" + UUID().uuidString.prefix(12)
        let python = try Tool.venvPython.require()
        let hash = try run(python, ["-c", "import bcrypt, sys; print(bcrypt.hashpw(sys.stdin.read().encode(), bcrypt.gensalt(4)).decode())"],
                           input: password).trimmingCharacters(in: .whitespacesAndNewlines)
        try folder.write("htpasswd", "\(username):\(hash)\n")
        systems = (0..<count).map { String(format: "0e6d7a6e-0000-4000-8000-%012d", $0) }
        let fakeSystems = systems.enumerated().map { index, uuid in
            "{'uuid': '\(uuid)', 'name': 'node-\(index)', 'power_state': '\(power)', 'nics': [{'mac': '52:54:00:00:\(String(format: "%02x:%02x", index / 256, index % 256))', 'ip': '198.18.0.\(index % 250 + 2)'}]}"
        }
        try folder.write("conf.py", """
            SUSHY_EMULATOR_FAKE_DRIVER = True
            SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'
            SUSHY_EMULATOR_LISTEN_PORT = 0
            SUSHY_EMULATOR_STATE_DIR = '\(folder.file("state"))'
            SUSHY_EMULATOR_AUTH_FILE = '\(folder.file("htpasswd"))'
            SUSHY_EMULATOR_SSL_CERT = '\(certificate.certificate)'
            SUSHY_EMULATOR_SSL_KEY = '\(certificate.key)'
            SUSHY_EMULATOR_FAKE_SYSTEMS = [\(fakeSystems.joined(separator: ", "))]

            """)
        child = try ChildProcess(try Tool.sushyEmulator.require(), ["--config", folder.file("conf.py")],
                                 log: folder.file("sushy.log"))
        // werkzeug prints " * Running on https://127.0.0.1:N" once it listens. Generous: a full
        // parallel run starts a dozen emulators (Python, Flask) at once on two cores.
        let log = folder.file("sushy.log")
        let logText = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        guard try await eventually(120, every: .milliseconds(100), { reportedPort(in: logText(), line: "Running on") != nil }),
              let port = reportedPort(in: logText(), line: "Running on") else {
            child.stop()
            throw ToolFailure(message: "sushy-emulator did not report its port:\n\(logText())")
        }
        self.port = port
    }

    /// Waits (bounded) until the emulator answers its service root.
    func ready() async throws {
        let client = RedfishClient(endpoint: try endpoint(), options: quickOptions(attempts: 1))
        let clock = ContinuousClock()
        // Generous: a full parallel test run starts a dozen emulators (Python, Flask) at once on
        // two cores, and each takes seconds of CPU to import before it listens.
        let deadline = clock.now + .seconds(120)
        while true {
            do {
                _ = try await client.serviceRoot()
                return
            } catch {
                if clock.now > deadline { throw ToolFailure(message: "sushy-emulator did not start: \(error)\n\(log)") }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    var log: String { (try? String(contentsOfFile: folder.file("sushy.log"), encoding: .utf8)) ?? "" }

    /// The requests the emulator logged (werkzeug's access lines), in order.
    var requestLines: [String] { log.split(separator: "\n").map(String.init).filter { $0.contains("\" ") && $0.contains(" HTTP/1.") } }

    /// Sends a request with a unique path (curl CLI, no credentials) and waits, bounded, until
    /// the emulator has logged it; returns how many requests it had logged up to and with it.
    /// Two marks around an action prove how many requests the action made.
    func mark() async throws -> Int {
        let path = "/dploy-mark-\(UUID().uuidString)"
        _ = try run(try Tool.curl.require(), ["-sk", "-o", "/dev/null", baseURL + path])
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while true {
            let lines = requestLines
            if let index = lines.firstIndex(where: { $0.contains(path) }) { return index + 1 }
            if clock.now > deadline { throw ToolFailure(message: "sushy-emulator never logged \(path):\n\(log)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func endpoint(system: Int? = nil, password: String? = nil, tls: TLSPolicy? = nil) throws -> BMCEndpoint {
        let address = system.map { "\(baseURL)/redfish/v1/Systems/\(systems[$0])" } ?? baseURL
        return try BMCEndpoint(address: address, username: username, password: password ?? self.password,
                               tls: tls ?? TLSPolicy(caFile: certificate.certificate))
    }

    func stop() { child.stop() }
}

/// The recorded-iLO fixture server (Fixtures/ilo_fixture.py) on 127.0.0.1.
final class ILOFixture: @unchecked Sendable {
    let folder: TemporaryFolder
    let certificate: TestCertificate
    let port: Int
    let username = "Administrator"
    let password: String
    private let child: ChildProcess

    var baseURL: String { "https://127.0.0.1:\(port)" }

    /// - Parameter tree: a recorded tree to serve instead of Fixtures/ilo5 (one of
    ///   `HPEMockups`' models); `generation` then changes nothing but the update protocol.
    /// - Parameter updateSeconds: an iLO 5 flash takes this long of wall time, however often
    ///   it is looked at (nil: it moves on one state per look).
    init(generation: Int = 5, tree: URL? = nil, updateSeconds: Double? = nil) throws {
        folder = try TemporaryFolder(prefix: "dploy-bmc")
        certificate = try TestCertificate(in: folder)
        password = "ilo-" + UUID().uuidString.prefix(12)
        try folder.write("password", password)
        child = try ChildProcess(try Tool.python3.require(), [
            fixtures.appendingPathComponent("ilo_fixture.py").path, "--cert", certificate.certificate, "--key", certificate.key,
            "--user", username, "--password-file", folder.file("password"), "--generation", String(generation),
        ] + (tree.map { ["--tree", $0.path] } ?? []) + (updateSeconds.map { ["--update-seconds", String($0)] } ?? []))
        let line = child.firstLine()
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            throw ToolFailure(message: "the iLO fixture did not start: '\(line)'")
        }
        self.port = port
    }

    func endpoint(password: String? = nil) throws -> BMCEndpoint {
        try BMCEndpoint(address: baseURL, username: username, password: password ?? self.password,
                        tls: TLSPolicy(caFile: certificate.certificate))
    }

    /// What the fixture saw: each request (method, path, token or basic auth, If-Match).
    func requests() async throws -> [JSONValue] {
        try await control("/_fixture/log")["log"]?.array ?? []
    }

    func openSessions() async throws -> Int {
        try await control("/_fixture/log")["sessions"]?.int ?? -1
    }

    @discardableResult
    func control(_ path: String, _ body: JSONValue? = nil) async throws -> JSONValue {
        // Basic auth, so reading the log does not add sessions to it.
        var options = quickOptions()
        options.useSessions = false
        let basic = RedfishConnection(endpoint: try endpoint(), options: options)
        if let body {
            return try basic.send(.post, path, body: body, doing: "control the fixture").json ?? .null
        }
        return try basic.get(path).json ?? .null
    }
}

/// A controller config for the emulator as an operator writes one: `dploy.yaml` with a
/// specs folder, and the secret `lab-bmc` (mode 0600) holding the emulator's credentials.
final class BMCLab: @unchecked Sendable {
    let folder: TemporaryFolder
    var config: String { folder.file("dploy.yaml") }

    init(_ bmc: SushyEmulator, specs: String) throws {
        folder = try TemporaryFolder(prefix: "dploy-bmc")
        for sub in ["specs", "secrets"] {
            try FileManager.default.createDirectory(atPath: folder.file(sub), withIntermediateDirectories: true)
        }
        try folder.write("dploy.yaml", "source: {path: specs}\nstore: {sqlite: state/dploy.db}\nsecrets: secrets\nbmc: {concurrency: 2}\n",
                         mode: 0o644)
        try folder.write("secrets/lab-bmc.yaml", "username: \(bmc.username)\npassword: '\(bmc.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        try folder.write("specs/machines.yaml", specs, mode: 0o644)
    }

    /// A Group giving every machine labelled `rack: r1` the emulator's credentials and its CA
    /// (`bmc-ca.pem`, see `trustCA`), with `defaults` (`power: "on", `) before them.
    static func rackGroup(defaults: String = "") -> String {
        """
        apiVersion: dploy.org/v1
        kind: Group
        metadata: {name: lab}
        spec:
          selector: {rack: r1}
          defaults: {\(defaults)bmc: {credentials: lab-bmc, caFile: bmc-ca.pem}}
        ---

        """
    }

    /// A `dploy.yaml` that applies: the specs folder, the store, the secrets, output folders
    /// and a boot server URL, then `extra` (one line: `bmc:`, `imaging:`, …).
    static func applyingConfig(_ extra: String) -> String {
        "source: {path: specs}\nstore: {sqlite: state/dploy.db}\nsecrets: secrets\noutput: {http: out/http, tftp: out/tftp}\n"
            + "server: {url: \"http://127.0.0.1:8080\"}\n\(extra)\n"
    }

    /// Puts the emulator's certificate beside the config as `bmc-ca.pem`, the CA `rackGroup` names.
    func trustCA(of bmc: SushyEmulator) throws {
        try FileManager.default.copyItem(atPath: bmc.certificate.certificate, toPath: folder.file("bmc-ca.pem"))
    }

    /// A Machine document; `bmc` adds fields after the address (`, credentials: lab-bmc`),
    /// `rack` labels it for a group selecting `rack: r1`.
    static func machine(_ name: String, mac: String, address: String, bmc: String = "", rack: Bool = false) -> String {
        """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: \(name)\(rack ? ", labels: {rack: r1}" : "")}
        spec:
          mac: "\(mac)"
          bmc: {address: "\(address)"\(bmc)}
        ---

        """
    }
}
