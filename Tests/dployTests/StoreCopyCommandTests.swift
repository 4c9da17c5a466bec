import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("dploy store copy, and a controller on PostgreSQL", .requires(.postgres, .initdb, .psql))
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
}
