import DployInventory
import DployTestSupport
import Foundation
import Testing

/// Boot servers that share one PostgreSQL store and follow one git repository, as an
/// operator sets up a second one: the lab (`ServeCommandTests.makeSite`) in the first
/// folder, each further server in a folder of its own (state, output, secrets, config),
/// and a stand-in iLO for machines whose BMC steps and tasks a test watches.
final class SharedStoreLab: @unchecked Sendable {
    let serve = ServeCommandTests()
    let first: ServeCommandTests.Site
    let server: PostgresServer
    let database: (name: String, url: String)
    let ilo: ILOStandIn
    /// dploy.yaml, the same in every folder.
    let config: String

    /// The BMC machine every test here watches: in git with a profile, its BMC the stand-in.
    static let bmcMachine = "bmc-a"
    static let bmcMAC = "52:54:00:aa:00:01"

    /// - Parameter server: a test that stops or freezes the database passes one of its own.
    init(server: PostgresServer? = nil) throws {
        first = try serve.makeSite()
        self.server = try server ?? PostgresServer.shared()
        database = try self.server.newDatabase()
        ilo = try ILOStandIn()
        let secrets = first.root.appendingPathComponent("secrets")
        for (name, text) in [("db.password", self.server.password + "\n"),
                             ("ilo.yaml", "username: \(ilo.username)\npassword: '\(ilo.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")] {
            _ = FileManager.default.createFile(atPath: secrets.appendingPathComponent(name).path, contents: Data(text.utf8),
                                               attributes: [.posixPermissions: 0o600])
        }
        try FileManager.default.copyItem(atPath: ilo.certificate, toPath: first.root.appendingPathComponent("ilo-ca.pem").path)
        config = try String(contentsOfFile: first.config, encoding: .utf8).replacingOccurrences(
            of: "store: {sqlite: state/dploy.db}",
            with: "store: {postgres: {url: '\(database.url)', passwordFile: secrets/db.password, tls: disable, lease: 3s}}\nsecrets: secrets")
        try Data(config.utf8).write(to: URL(fileURLWithPath: first.config))
        try commit(Self.bmcMachine, generation: 1, message: "add \(Self.bmcMachine)")
    }

    deinit { try? FileManager.default.removeItem(at: first.root) }

    /// Boot server `number` (1: the first folder, which holds the repository).
    func site(_ number: Int) throws -> ServeCommandTests.Site {
        guard number > 1 else { return first }
        let other = ServeCommandTests.Site(root: first.root.appendingPathComponent("boot-\(number)"))
        guard !FileManager.default.fileExists(atPath: other.root.path) else { return other }
        try FileManager.default.createDirectory(at: other.root.appendingPathComponent("state"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: first.root.appendingPathComponent("secrets"), to: other.root.appendingPathComponent("secrets"))
        try FileManager.default.copyItem(at: first.root.appendingPathComponent("ilo-ca.pem"), to: other.root.appendingPathComponent("ilo-ca.pem"))
        try Data(config.utf8).write(to: URL(fileURLWithPath: other.config))
        return other
    }

    /// Starts `dploy serve` in boot server `number`'s folder and waits for its first run.
    func start(_ number: Int) async throws -> ServeCommandTests.Daemon {
        let daemon = try await ServeCommandTests.Daemon(site: try site(number))
        #expect(try await serve.started(daemon), "\(daemon.log)")
        return daemon
    }

    /// Commits `bmc-a` at `generation` (its BMC the stand-in), and `extra` documents in site-a/extra.yaml.
    func commit(_ machine: String, generation: Int, extra: String = "", message: String) throws {
        let documents = """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: \(machine)}
            spec:
              mac: "\(Self.bmcMAC)"
              profile: debian-12
              generation: \(generation)
              bmc: {address: "\(ilo.baseURL)", credentials: ilo, caFile: ilo-ca.pem}

            """
        try Data(documents.utf8).write(to: first.root.appendingPathComponent("upstream/site-a/machines/\(machine).yaml"))
        let extraFile = first.root.appendingPathComponent("upstream/site-a/extra.yaml")
        try? FileManager.default.removeItem(at: extraFile)
        if !extra.isEmpty { try Data(extra.utf8).write(to: extraFile) }
        try serve.source.shell("cd upstream && git add -A && git commit -q -m '\(message)'", in: first.root)
    }

    /// The store, opened as `dploy machines` would (the test's own connection, no lease).
    func store() throws -> PostgresStore {
        try PostgresStore(PostgresSettings(url: database.url, password: server.password))
    }

    /// One psql answer, trimmed.
    func sql(_ query: String) throws -> String {
        try server.psql(query, database: database.name).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What only a leader writes, as rows: task runs, BMC jobs, the term, and every event.
    func leaderWrites() throws -> String {
        try ["SELECT task, machine, state, coalesce(error, '') FROM task_run ORDER BY id", "SELECT id, state FROM bmc_job ORDER BY id",
             "SELECT term FROM leader", "SELECT id, kind, message FROM event ORDER BY id"].map(sql).joined(separator: "\n--\n")
    }

    /// Each daemon's role, as its `/v1/status` says ("?" when it does not answer).
    func roles(_ daemons: [ServeCommandTests.Daemon]) -> [String] {
        daemons.map { (try? serve.status($0.port)?["role"] as? String) ?? "?" }
    }
}

/// Tests/DployBMCTests/Fixtures/ilo_fixture.py, an iLO 5 stand-in on 127.0.0.1 with a
/// certificate of its own: it logs every request, and holds the ones a test asks it to
/// (`hold`) until `release`, so a test catches dploy in the middle of a BMC request.
/// DployBMCTests' `ILOFixture` runs the same script and talks to it through DployBMC; this one
/// uses curl, since dployTests drives only the `dploy` binary.
final class ILOStandIn: @unchecked Sendable {
    let folder: TemporaryFolder
    let port: Int
    let username = "Administrator"
    let password = "ilo-" + UUID().uuidString.prefix(12)
    /// The certificate, which the machines' `bmc.caFile` names.
    var certificate: String { folder.file("ilo.crt") }
    var baseURL: String { "https://127.0.0.1:\(port)" }
    private let process = Process()

    static let script = CommandLineTests.repositoryRoot.appendingPathComponent("Tests/DployBMCTests/Fixtures/ilo_fixture.py").path
    static let reset = "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
    static let system = "/redfish/v1/Systems/1"

    init() throws {
        let folder = try TemporaryFolder(prefix: "dploy-ilo")
        self.folder = folder
        let certificate = folder.file("ilo.crt")
        try folder.write("password", password)
        try run(try Tool.openssl.require(), ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                             "-keyout", folder.file("ilo.key"), "-out", certificate, "-days", "2",
                                             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
        process.executableURL = URL(fileURLWithPath: try Tool.python3.require())
        process.arguments = [Self.script, "--cert", certificate, "--key", folder.file("ilo.key"), "--user", username,
                             "--password-file", folder.file("password")]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var line: [UInt8] = []
        while let byte = output.fileHandleForReading.readData(ofLength: 1).first, byte != 10 { line.append(byte) }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            throw ToolFailure(message: "the iLO stand-in did not start: '\(text)'")
        }
        self.port = port
    }

    /// SIGKILL by its own pid: a child started from a Swift concurrency thread inherits a mask
    /// in which SIGTERM is blocked.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A control endpoint, with basic auth (no session, so the log is only dploy's).
    @discardableResult
    func control(_ path: String, _ body: String? = nil) throws -> String {
        try run(try Tool.curl.require(), ["-sS", "--fail", "--cacert", certificate, "-u", "\(username):\(password)"]
                + (body.map { ["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", $0] } ?? [])
                + [baseURL + path])
    }

    /// Every request dploy sent, in order: method and path (and "held" for one that was held).
    func requests() throws -> [[String: Any]] {
        let answer = try JSONSerialization.jsonObject(with: Data(try control("/_fixture/log").utf8)) as? [String: Any]
        return answer?["log"] as? [[String: Any]] ?? []
    }

    /// How many `method` requests went to `path` (letter case and a trailing slash aside).
    func count(_ method: String, _ path: String) throws -> Int {
        func normal(_ text: String) -> String { text.lowercased().split(separator: "?")[0].trimmingCharacters(in: ["/"]) }
        return try requests().count { $0["method"] as? String == method && normal($0["path"] as? String ?? "") == normal(path) }
    }

    /// The next request of `method` to `path` is logged when it arrives and answered at `release`.
    func hold(_ method: String, _ path: String) throws {
        try control("/_fixture/hold", #"{"method": "\#(method)", "path": "\#(path)", "count": 1}"#)
    }

    func release() throws { try control("/_fixture/release", "{}") }

    /// Whether a held request has arrived.
    func holding() throws -> Bool { try requests().contains { $0["held"] as? Bool == true } }
}
