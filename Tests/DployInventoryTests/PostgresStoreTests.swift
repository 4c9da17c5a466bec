@testable import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Synchronization
import Testing

@Suite("The PostgreSQL store, shared by several controllers", .ownThread, .requires(.postgres, .initdb, .psql))
struct PostgresStoreTests {
    let web01 = MACAddress("94:18:82:3a:5c:10")!
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// Two controllers' stores on one new database.
    func twoControllers() throws -> (PostgresStore, PostgresStore, PostgresServer, String) {
        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        let settings = PostgresSettings(url: database.url, password: server.password)
        return (try PostgresStore(settings), try PostgresStore(settings), server, database.name)
    }

    @Test("a machine first seen by two controllers at once is one row with one 'seen' event")
    func firstSightingRace() throws {
        let (a, b, _, _) = try twoControllers()
        let macs = (0..<40).map { MACAddress(String(format: "94:18:82:00:01:%02x", $0))! }
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            let store = worker % 2 == 0 ? a : b
            for mac in macs { try? store.recordSeen(mac, address: "198.18.0.\(worker + 10)", at: t0 + Double(worker)) }
        }
        #expect(try a.machines().count == 40)
        let seen = try a.events(for: nil, limit: 10_000).filter { $0.kind == "seen" }
        #expect(seen.count == 40, "one first sighting per machine, whoever saw it first")
        #expect(try b.machine(macs[0])?.lastSeen == t0 + 7, "the latest sighting wins, in whatever order they land")
    }

    @Test("a task run raced for by two controllers starts once; the loser records nothing")
    func taskRunRace() throws {
        let (a, b, _, _) = try twoControllers()
        let keys = (0..<30).map { TaskRunKey(task: "motd", revision: "r1", machine: "web-\($0)") }
        let wins = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            let store = worker % 2 == 0 ? a : b
            for key in keys {
                let run = TaskRun(key: key, mac: web01, action: .ssh, state: .running, startedAt: t0)
                if (try? store.startTaskRun(run)) == true { wins.withLock { $0 += 1 } }
            }
        }
        #expect(wins.withLock { $0 } == 30)
        #expect(try a.taskRuns(task: "motd").count == 30)
        #expect(try b.events(for: web01, limit: 1000).count == 30, "one 'started' event per run")
    }

    @Test("an installer's callback that reaches two controllers at once counts once")
    func installCallbackRace() throws {
        let (a, b, _, _) = try twoControllers()
        let macs = (0..<20).map { MACAddress(String(format: "94:18:82:00:02:%02x", $0))! }
        for mac in macs { try a.installStarted(mac, generation: 3, at: t0) }
        let counted = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            let store = worker % 2 == 0 ? a : b
            for mac in macs where (try? store.installFinished(mac, generation: 3, at: t0 + 60)) == true {
                counted.withLock { $0 += 1 }
            }
        }
        #expect(counted.withLock { $0 } == 20)
        #expect(try a.events(for: nil, limit: 1000).count { $0.kind == "install-finished" } == 20)
        #expect(try b.installedGenerations().count == 20)
    }

    @Test("a database without dploy's tables, or with a newer dploy's, is refused read-only and changes nothing")
    func versions() throws {
        let server = try PostgresServer.shared()
        let (database, url) = try server.newDatabase()
        let settings = PostgresSettings(url: url, password: server.password)
        #expect(try !PostgresStore.hasSchema(settings))
        #expect { try PostgresStore(settings, readOnly: true) } throws: { "\($0)".contains("it has no dploy schema") }
        #expect(try !PostgresStore.hasSchema(settings), "a read-only open created nothing")
        _ = try PostgresStore(settings)
        #expect(try PostgresStore.hasSchema(settings))
        #expect(try server.psql("SELECT name FROM dploy_migration", database: database)
                == PostgresSchema.versions.joined(separator: "\n") + "\n")
        try server.psql("INSERT INTO dploy_migration (name) VALUES ('p99: from the future')", database: database)
        #expect { try PostgresStore(settings) } throws: { "\($0)".contains("written by a newer dploy (migration 'p99: from the future')") }
        #expect { try PostgresStore(settings, readOnly: true) } throws: { "\($0)".contains("written by a newer dploy") }
    }

    @Test("each earlier version migrates, keeping its rows; two controllers migrating at once do it once")
    func migratesFromEveryVersion() throws {
        let server = try PostgresServer.shared()
        for (index, earlier) in PostgresSchema.versions.dropLast().enumerated() {
            let (database, url) = try server.newDatabase()
            let settings = PostgresSettings(url: url, password: server.password)
            try PostgresSchema.migrate(try PostgresConnection(settings), upTo: earlier)
            #expect(try server.psql("SELECT count(*) FROM dploy_migration", database: database) == "\(index + 1)\n")
            try server.psql("INSERT INTO machine (mac, first_seen, last_seen, state) VALUES ('94:18:82:3a:5c:10', now(), now(), 'known')",
                            database: database)
            #expect { try PostgresStore(settings, readOnly: true) } throws: { "\($0)".contains("it is from an older dploy") }
            let stores = Mutex<[PostgresStore]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                if let store = try? PostgresStore(settings) { stores.withLock { $0.append(store) } }
            }
            #expect(stores.withLock { $0.count } == 2, "both controllers started")
            #expect(try PostgresStore(settings, readOnly: true).machine(web01)?.state == .known, "from \(earlier)")
            #expect(try server.psql("SELECT count(*) FROM dploy_migration", database: database) == "\(PostgresSchema.versions.count)\n")
        }
    }

    @Test("TLS: verify-full takes the right CA and host name only; a URL's sslmode cannot turn it off; verify-ca skips the name",
          .requires(.openssl))
    func tls() throws {
        let server = try PostgresServer(tls: true)
        defer { server.stop() }
        let database = try server.newDatabase().name
        func open(_ url: String, _ tls: PostgresSettings.TLS, ca: String?) -> String {
            do {
                _ = try PostgresStore(PostgresSettings(url: url, password: server.password, tls: tls, caFile: ca)).machines()
                return "ok"
            } catch {
                return "\(error)"
            }
        }
        #expect(open(server.tcpURL(database: database), .verifyFull, ca: server.caFile) == "ok")
        #expect(open(server.tcpURL(database: database), .verifyFull, ca: server.otherCAFile).contains("certificate verify failed"))
        #expect(open(server.tcpURL(database: database) + "?sslmode=disable", .verifyFull, ca: server.otherCAFile)
            .contains("certificate verify failed"), "the URL's sslmode is overridden by tls")
        let byAddress = server.tcpURL(database: database, host: "127.0.0.1")
        #expect(open(byAddress, .verifyFull, ca: server.caFile).contains("does not match host name"))
        #expect(open(byAddress, .verifyCA, ca: server.caFile) == "ok")
        #expect(open(byAddress, .verifyCA, ca: server.otherCAFile).contains("certificate verify failed"))
    }

    @Test("a wrong password is an error that names the server, never the password")
    func wrongPassword() throws {
        let server = try PostgresServer.shared()
        let url = try server.newDatabase().url
        let wrong = "not-the-password-\(UUID().uuidString)"
        #expect { try PostgresStore(PostgresSettings(url: url, password: wrong)) } throws: { error in
            let text = "\(error)"
            return text.contains("cannot connect") && text.contains("password authentication failed") && !text.contains(wrong)
        }
        // Rebuilt from what libpq reads: no password, however the URL hides it.
        for url in ["postgres://dploy:hunter2@db1/dploy", "postgres://dploy@db1/dploy?sslmode=require&password=hunter2",
                    "postgres://dploy@db1/dploy?%70assword=hunter2", "postgres://dploy:hunter2?@db1/dploy",
                    "postgres://dploy@db1/dploy"] {
            let shown = PostgresSettings(url: url).redactedURL
            #expect(!shown.contains("hunter2") && shown.hasPrefix("postgres://dploy"), "\(url) → \(shown)")
        }
        #expect(PostgresSettings(url: "postgres://dploy@db1:5433/dploy").redactedURL == "postgres://dploy@db1:5433/dploy")
        #expect(PostgresSettings(url: "postgres://dploy@/dploy?host=/run/postgresql").redactedURL
                == "postgres://dploy@/dploy?host=/run/postgresql")
    }

    @Test("a server that goes away is an error, and the store works again once it is back, without reopening")
    func reconnects() throws {
        let (store, _, server, database) = try twoControllers()
        try store.recordSeen(web01, address: nil, at: t0)
        // Every connection of this database ends, as when the server restarts.
        try server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
        // The first statement on a broken connection fails, and so does every call for the
        // next 2 s (boot requests answer at once meanwhile); then the store reconnects.
        #expect(throws: StoreError.self) { try store.machines() }
        #expect { try store.machines() } throws: { "\($0)".contains("did not answer a moment ago") }
        #expect(eventuallyBlocking(10) { (try? store.machines())?.count == 1 })
    }
}
