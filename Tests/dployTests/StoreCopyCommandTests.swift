import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("dploy store copy, and a controller on PostgreSQL", .ownThread, .requires(.postgres, .initdb, .psql))
struct StoreCopyCommandTests {
    let cli = CommandLineTests()

    @Test("SQLite → PostgreSQL, checked row by row; the lab then reads the same machines from PostgreSQL and backs it up to SQLite")
    func copyToPostgres() throws {
        let lab = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-copy-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CommandLineTests.repositoryRoot.appendingPathComponent("examples/lab"), to: lab)
        defer { try? FileManager.default.removeItem(at: lab) }
        try? FileManager.default.removeItem(at: lab.appendingPathComponent("state"))
        let sqlitePath = lab.appendingPathComponent("state/dploy.db").path
        let store = try SQLiteStore(path: sqlitePath)
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let web02 = try #require(MACAddress("94:18:82:3a:5c:2e"))
        try store.installStarted(web02, generation: 1, at: at)
        try store.installFinished(web02, generation: 1, at: at + 60)
        try store.recordHardware(try #require(MACAddress("94:18:82:99:00:01")),
                                 Hardware(vendor: "HPE", model: "ProLiant DL380 Gen10", cpus: 2), at: at)

        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        let passwordFile = lab.appendingPathComponent("db.password").path
        _ = FileManager.default.createFile(atPath: passwordFile, contents: Data((server.password + "\n").utf8),
                                       attributes: [.posixPermissions: 0o600])

        let leaky = try cli.dploy("store", "copy", "--from", "sqlite:state/dploy.db",
                                  "--to", "postgres://dploy:\(server.password)@/x?host=\(server.folder)", in: lab)
        #expect(leaky.status != 0 && leaky.stderr.contains("holds a password; put it in 'passwordFile'"))
        #expect(!leaky.stderr.contains(server.password), "the refusal never repeats the password")

        let copy = try cli.dploy("store", "copy", "--from", "sqlite:state/dploy.db", "--to", database.url,
                                 "--password-file", "db.password", "--tls", "disable", in: lab)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stdout.contains("checked row by row:\n  machine: 2\n  hardware: 1\n  install: 1\n"), "\(copy.stdout)")
        let again = try cli.dploy("store", "copy", "--from", "sqlite:state/dploy.db", "--to", database.url,
                                  "--password-file", "db.password", "--tls", "disable", in: lab)
        #expect(again.status == 1 && again.stderr.contains("already holds machines"), "\(again.stderr)")

        // The lab's controller, moved to the shared store.
        let config = lab.appendingPathComponent("dploy.yaml")
        let yaml = try String(contentsOf: config, encoding: .utf8).replacingOccurrences(
            of: "store: {sqlite: state/dploy.db}",
            with: "store: {postgres: {url: '\(database.url)', passwordFile: db.password, tls: disable}}")
        try yaml.write(to: config, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: sqlitePath)
        let machines = try cli.dploy("machines", in: lab)
        #expect(machines.status == 0, "\(machines.stderr)")
        #expect(machines.stdout.split(separator: "\n").contains { $0.hasPrefix("web-02") && $0.contains("installed") && $0.contains("1/1") })
        #expect(machines.stdout.contains("ProLiant DL380 Gen10"))

        let backup = try cli.dploy("store", "backup", "back.db", in: lab)
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(backup.stdout.contains("Backed up postgres://dploy@/"))
        #expect(try SQLiteStore(path: lab.appendingPathComponent("back.db").path).installedGenerations() == [web02: 1])

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passwordFile)
        let exposed = try cli.dploy("machines", in: lab)
        #expect(exposed.status != 0 && exposed.stderr.contains("is readable by group or others"), "\(exposed.stderr)")
    }

    @Test("store copy refuses an SQLite store whose daemon runs, naming it, and copies once it is stopped")
    func refusesRunningSource() async throws {
        let serve = ServeCommandTests()
        let site = try serve.makeSite()
        defer { try? FileManager.default.removeItem(at: site.root) }
        let daemon = try await ServeCommandTests.Daemon(site: site)
        #expect(try await serve.started(daemon), "\(daemon.log)")

        let refused = try cli.dploy("store", "copy", "--from", "sqlite:state/dploy.db", "--to", "sqlite:copy.db", in: site.root)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("another dploy (pid \(daemon.process.processIdentifier) on "), "\(refused.stderr)")
        #expect(refused.stderr.contains("holds state/dploy.lock and writes to state/dploy.db: stop it first"), "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was copied"))
        #expect(!FileManager.default.fileExists(atPath: site.root.appendingPathComponent("copy.db").path), "no half copy")
        // The daemon kept its lead and goes on applying.
        #expect(try serve.status(daemon.port)?["role"] as? String == "apply")

        #expect(try await daemon.terminate() == 0)
        let copy = try cli.dploy("store", "copy", "--from", "sqlite:state/dploy.db", "--to", "sqlite:copy.db", in: site.root)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stdout.contains("checked row by row:"), "\(copy.stdout)")
        // The copy let the lock go: the daemon leads again when it starts.
        let again = try await ServeCommandTests.Daemon(site: site)
        #expect(try await serve.started(again), "\(again.log)")
        #expect(try serve.status(again.port)?["role"] as? String == "apply")
        #expect(try await again.terminate() == 0)
    }

    @Test("a PostgreSQL store's backup and its copy back carry its BMC jobs and the callback key, row by row")
    func backupCarriesJobsAndKey() throws {
        let lab = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: lab, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: lab) }
        let server = try PostgresServer.shared()
        let (first, second) = (try server.newDatabase(), try server.newDatabase())
        _ = FileManager.default.createFile(atPath: lab.appendingPathComponent("db.password").path,
                                           contents: Data((server.password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let store = try PostgresStore(PostgresSettings(url: first.url, password: server.password))
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        let key = (0..<32).map { UInt8($0) }
        _ = try store.sharedSecret("callback-key", proposing: key)
        let job = try #require(try store.enqueueBMCJob(BMCJob(machine: "web-01", mac: MACAddress("94:18:82:3a:5c:10"), kind: .firmware,
                                                              step: "firmware System ROM U32 v2.90", payload: "{}", createdAt: at)))
        _ = try store.claimBMCJob(site: "default", at: at + 1)
        _ = try store.updateBMCJob(job.id, BMCJobUpdate(submittedAt: at + 2, tracking: "task:/redfish/v1/TaskService/Tasks/7"))

        let config = "store: {postgres: {url: '\(first.url)', passwordFile: db.password, tls: disable}}\nsource: {path: specs}\n"
        try FileManager.default.createDirectory(at: lab.appendingPathComponent("specs"), withIntermediateDirectories: true)
        try Data(config.utf8).write(to: lab.appendingPathComponent("dploy.yaml"))
        let backup = try cli.dploy("store", "backup", "back.db", in: lab)
        #expect(backup.status == 0, "\(backup.stderr)")
        let copy = try cli.dploy("store", "copy", "--from", "sqlite:back.db", "--to", second.url, "--password-file", "db.password",
                                 "--tls", "disable", in: lab)
        #expect(copy.status == 0, "\(copy.stderr)")
        #expect(copy.stdout.contains("  bmcJob: 1\n  rolloutResume: 0\n  sharedSecret: 1\n"), "\(copy.stdout)")
        #expect(!copy.stdout.contains(Hex.encode(key)), "the key is counted, never printed")
        // What the controllers of the copy read: the same key, the flash followed from its tracking.
        for sql in ["SELECT value FROM shared_secret", "SELECT id, state, tracking FROM bmc_job"] {
            #expect(try server.psql(sql, database: second.name) == server.psql(sql, database: first.name), "\(sql)")
        }
        #expect(try server.psql("SELECT value FROM shared_secret", database: second.name) == Hex.encode(key) + "\n")
        #expect(try server.psql("SELECT state, tracking FROM bmc_job", database: second.name) == "running|task:/redfish/v1/TaskService/Tasks/7\n")
    }
}
