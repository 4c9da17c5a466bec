import Foundation

extension Tool {
    /// Debian 12's PostgreSQL 15 server and its tools (not on PATH: Debian keeps them by version).
    public static let postgres = debian("/usr/lib/postgresql/15/bin/postgres", package: "postgresql-15")
    public static let initdb = debian("/usr/lib/postgresql/15/bin/initdb", package: "postgresql-15")
    public static let psql = debian("/usr/lib/postgresql/15/bin/psql", package: "postgresql-client-15")
}

/// One PostgreSQL 15 server for the test process, started on first use: `initdb` into a
/// temporary folder, listening only on a Unix socket in it, password logins (SCRAM) for
/// the superuser `dploy`. PostgreSQL refuses to run as root, so under root (CI) it runs as
/// `nobody`. Each test takes a database of its own (`newDatabase`). The server is stopped
/// and its folder removed when the test process exits.
public final class PostgresServer: @unchecked Sendable {
    public let folder: String
    /// The file holding the superuser's password, as `store.postgres.passwordFile` names one.
    public let passwordFile: String
    public let password: String
    private let process: Process

    /// The process's server; throws (naming how to install it) when PostgreSQL is missing.
    public static func shared() throws -> PostgresServer {
        try started.get()
    }

    private static let started: Result<PostgresServer, any Error> = Result { try PostgresServer() }

    private init() throws {
        let initdb = try Tool.initdb.require()
        let postgres = try Tool.postgres.require()
        folder = "/tmp/dploy-pg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700])
        password = UUID().uuidString
        passwordFile = folder + "/password"
        try Data((password + "\n").utf8).write(to: URL(fileURLWithPath: passwordFile))
        if isRoot { _ = try run("/usr/bin/chown", ["-R", "nobody:nogroup", folder]) }

        try run(Self.unprivileged(initdb), Self.asUser(initdb) + ["-D", folder + "/data", "-U", "dploy", "-E", "UTF8", "--locale=C",
                                                           "--auth=scram-sha-256", "--pwfile=" + passwordFile, "--no-sync"])
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.unprivileged(postgres))
        process.arguments = Self.asUser(postgres) + ["-D", folder + "/data", "-k", folder, "-c", "listen_addresses=",
                                           "-c", "fsync=off", "-c", "max_connections=100", "-c", "unix_socket_permissions=0777"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Self.stopAtExit(process.processIdentifier, folder: folder)
        let socket = folder + "/.s.PGSQL.5432"
        guard eventuallyBlocking(30, { FileManager.default.fileExists(atPath: socket) && (try? psql("SELECT 1")) != nil }) else {
            throw ToolFailure(message: "PostgreSQL did not start in \(folder)")
        }
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
}

extension PostgresServer {
    /// Stops the server (SIGQUIT: immediate shutdown) and removes its folder when the test
    /// process exits.
    fileprivate static func stopAtExit(_ pid: Int32, folder: String) {
        serverPID = pid
        serverFolder = folder
        atexit {
            if PostgresServer.serverPID > 0 {
                kill(PostgresServer.serverPID, SIGQUIT)
                var status: Int32 = 0
                waitpid(PostgresServer.serverPID, &status, 0)
            }
            if let folder = PostgresServer.serverFolder { try? FileManager.default.removeItem(atPath: folder) }
        }
    }

    // Written once, before atexit can run.
    nonisolated(unsafe) fileprivate static var serverPID: Int32 = 0
    nonisolated(unsafe) fileprivate static var serverFolder: String?
}
