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
    /// The postmaster (setpriv execs it in place); nil while stopped.
    private let postmaster = Mutex<Process?>(nil)

    /// The process's shared server; throws (naming how to install it) when PostgreSQL is missing.
    public static func shared() throws -> PostgresServer {
        try started.get()
    }

    private static let started: Result<PostgresServer, any Error> = Result { try PostgresServer() }

    /// A server of the caller's own, started.
    public init() throws {
        let initdb = try Tool.initdb.require()
        _ = try Tool.postgres.require()
        folder = "/tmp/dploy-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        password = UUID().uuidString
        passwordFile = folder + "/password"
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        if isRoot { _ = try run("/usr/bin/chown", ["-R", "nobody:nogroup", folder]) }
        try run(Self.unprivileged(initdb), Self.asUser(initdb) + ["-D", folder + "/data", "-U", "dploy", "-E", "UTF8", "--locale=C",
                                                                  "--auth=scram-sha-256", "--pwfile=" + passwordFile, "--no-sync"])
        Self.servers.withLock { $0.append(self) }
        try start()
    }

    /// Starts the server (again) on its data folder and waits until it answers.
    public func start() throws {
        let postgres = try Tool.postgres.require()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.unprivileged(postgres))
        process.arguments = Self.asUser(postgres) + ["-D", folder + "/data", "-k", folder, "-c", "listen_addresses=", "-c", "fsync=off", "-c", "max_connections=100",
               "-c", "unix_socket_permissions=0777"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        postmaster.withLock { $0 = process }
        let socket = folder + "/.s.PGSQL.5432"
        guard eventuallyBlocking(30, { FileManager.default.fileExists(atPath: socket) && (try? psql("SELECT 1")) != nil }) else {
            throw ToolFailure(message: "PostgreSQL did not start in \(folder)")
        }
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
        "postgres://dploy@/\(database)?host=\(folder)"
    }

    /// Runs SQL as the superuser (in `database`), returning psql's unaligned output.
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") throws -> String {
        try run(try Tool.psql.require(), ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", folder, "-U", "dploy",
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
