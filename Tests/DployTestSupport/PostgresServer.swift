import Foundation
import Synchronization

extension Tool {
    /// Debian 12's PostgreSQL 15 server and its tools (not on PATH: Debian keeps them by version).
    public static let postgres = debian("/usr/lib/postgresql/15/bin/postgres", package: "postgresql-15")
    public static let initdb = debian("/usr/lib/postgresql/15/bin/initdb", package: "postgresql-15")
    public static let psql = debian("/usr/lib/postgresql/15/bin/psql", package: "postgresql-client-15")
}

/// A PostgreSQL 15 server of the tests' own: `initdb` into a temporary folder, listening
/// only on a Unix socket in it, password logins (SCRAM) for the superuser `dploy`.
/// PostgreSQL refuses to run as root, so under root (CI) it runs as `nobody`. A test can
/// freeze it whole (SIGSTOP to the postmaster and its children) or stop and start it.
/// Every server is stopped and its folder removed when the test process exits.
///
/// Most tests share one (`shared()`), each in a database of its own (`newDatabase`); a
/// test that freezes or stops its server starts one of its own (`init()`).
public final class PostgresServer: @unchecked Sendable {
    public let folder: String
    /// The file holding the superuser's password, as `store.postgres.passwordFile` names one.
    public let passwordFile: String
    public let password: String
    /// The port: of the Unix socket's name, and with TLS also on 127.0.0.1.
    public private(set) var port = 5432
    /// With TLS: the CA that signed the server's certificate (for `localhost` only), and
    /// another CA that did not.
    public private(set) var caFile: String?
    public private(set) var otherCAFile: String?
    private let tls: Bool
    /// The postmaster (setpriv execs it in place); nil while stopped.
    private let postmaster = Mutex<Process?>(nil)

    /// The process's shared server; throws (naming how to install it) when PostgreSQL is missing.
    public static func shared() throws -> PostgresServer {
        try started.get()
    }

    private static let started: Result<PostgresServer, any Error> = Result { try PostgresServer() }

    /// A server of the caller's own, started; with `tls`, also on 127.0.0.1 with a
    /// certificate for `localhost` (ssl=on).
    public init(tls: Bool = false) throws {
        self.tls = tls
        let initdb = try Tool.initdb.require()
        _ = try Tool.postgres.require()
        folder = "/tmp/dploy-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        password = UUID().uuidString
        passwordFile = folder + "/password"
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        if tls { try makeCertificates() }
        if isRoot { _ = try run("/usr/bin/chown", ["-R", "nobody:nogroup", folder]) }
        try run(Self.unprivileged(initdb), Self.asUser(initdb) + ["-D", folder + "/data", "-U", "dploy", "-E", "UTF8", "--locale=C",
                                                                  "--auth=scram-sha-256", "--pwfile=" + passwordFile, "--no-sync"])
        Self.servers.withLock { $0.append(self) }
        try start()
    }

    /// Starts the server (again) on its data folder and waits until it answers. With TLS it
    /// listens on 127.0.0.1 too, on a port picked at random and tried again when taken.
    public func start() throws {
        for _ in 0..<5 {
            if tls { port = Int.random(in: 20_000..<60_000) }
            if try startOnce() { return }
        }
        throw ToolFailure(message: "PostgreSQL did not start in \(folder)")
    }

    private func startOnce() throws -> Bool {
        let postgres = try Tool.postgres.require()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.unprivileged(postgres))
        var settings = ["-c", "listen_addresses=" + (tls ? "127.0.0.1" : ""), "-p", String(port), "-c", "fsync=off",
                        "-c", "max_connections=100", "-c", "unix_socket_permissions=0777"]
        if tls {
            settings += ["-c", "ssl=on", "-c", "ssl_cert_file=\(folder)/server.crt", "-c", "ssl_key_file=\(folder)/server.key"]
        }
        process.arguments = Self.asUser(postgres) + ["-D", folder + "/data", "-k", folder] + settings
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let socket = folder + "/.s.PGSQL.\(port)"
        guard eventuallyBlocking(30, { !process.isRunning || (FileManager.default.fileExists(atPath: socket) && (try? psql("SELECT 1")) != nil) }),
              process.isRunning else {
            if process.isRunning { process.terminate() }
            return false
        }
        postmaster.withLock { $0 = process }
        return true
    }

    /// A CA, a server certificate it signs for `localhost` only, and another CA.
    private func makeCertificates() throws {
        let openssl = try Tool.openssl.require()
        for ca in ["ca", "other-ca"] {
            try run(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                              "-subj", "/CN=dploy test \(ca)", "-keyout", "\(folder)/\(ca).key", "-out", "\(folder)/\(ca).crt"])
        }
        try run(openssl, ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
                          "-keyout", "\(folder)/server.key", "-out", "\(folder)/server.csr"])
        try Data("subjectAltName=DNS:localhost\n".utf8).write(to: URL(fileURLWithPath: folder + "/san.ext"))
        try run(openssl, ["x509", "-req", "-in", "\(folder)/server.csr", "-CA", "\(folder)/ca.crt", "-CAkey", "\(folder)/ca.key",
                          "-CAcreateserial", "-days", "2", "-extfile", "\(folder)/san.ext", "-out", "\(folder)/server.crt"])
        chmod(folder + "/server.key", 0o600)
        caFile = folder + "/ca.crt"
        otherCAFile = folder + "/other-ca.crt"
    }

    /// The URL of `database` over TCP, by host name (`localhost`) or address (`127.0.0.1`).
    public func tcpURL(database: String, host: String = "localhost") -> String {
        "postgres://dploy@\(host):\(port)/\(database)"
    }

    /// Stops the server (fast shutdown: clients are disconnected) and waits until it is gone.
    public func stop() {
        guard let process = postmaster.withLock({ process in defer { process = nil }; return process }) else { return }
        signalAll(SIGCONT, postmaster: process.processIdentifier)
        kill(process.processIdentifier, SIGINT)
        _ = eventuallyBlocking(30) { !process.isRunning }
    }

    /// Freezes every process of the server, as a host that stops answering does.
    public func freeze() { postmaster.withLock { $0 }.map { signalAll(SIGSTOP, postmaster: $0.processIdentifier) } }
    public func thaw() { postmaster.withLock { $0 }.map { signalAll(SIGCONT, postmaster: $0.processIdentifier) } }

    /// Signals the postmaster and every process it started (backends, checkpointer, …),
    /// found by their parent in /proc.
    private func signalAll(_ signal: Int32, postmaster: pid_t) {
        let children = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            // After "pid (comm) state ": the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == postmaster ? pid : nil
        }
        if signal == SIGSTOP { kill(postmaster, signal) }
        for child in children { kill(child, signal) }
        if signal != SIGSTOP { kill(postmaster, signal) }
    }

    /// A new, empty database: its name, and its URL for `store.postgres.url`.
    public func newDatabase() throws -> (name: String, url: String) {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try psql("CREATE DATABASE \(name)")
        return (name, url(database: name))
    }

    public func url(database: String) -> String {
        "postgres://dploy@/\(database)?host=\(folder)" + (port == 5432 ? "" : "&port=\(port)")
    }

    /// Runs SQL as the superuser (in `database`), returning psql's unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try run(try Tool.psql.require(), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", folder, "-p", String(port), "-U", "dploy",
                                          "-d", database, "-c", sql],
                environment: ["PGPASSWORD": password, "PATH": "/usr/bin:/bin"])
    }

    /// Under root, programs run through setpriv as `nobody`; otherwise as they are.
    private static func unprivileged(_ program: String) -> String { isRoot ? "/usr/bin/setpriv" : program }
    private static func asUser(_ program: String) -> [String] {
        isRoot ? ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", program] : []
    }

    /// Every server started, stopped at exit (a frozen one is thawed first).
    private static let servers: Mutex<[PostgresServer]> = {
        atexit {
            for server in PostgresServer.servers.withLock({ $0 }) {
                server.stop()
                try? FileManager.default.removeItem(atPath: server.folder)
            }
        }
        return Mutex([])
    }()
}
