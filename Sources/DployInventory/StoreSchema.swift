import Foundation
import GRDB

/// The store's schema, one named migration per change. A released migration is never
/// edited: a change is a new migration, tested from an empty file and from each earlier
/// version.
enum StoreSchema {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: machines, hardware, installs, events") { db in
            try db.create(table: "machine") { t in
                t.primaryKey("mac", .text)
                t.column("firstSeen", .datetime).notNull()
                t.column("lastSeen", .datetime).notNull()
                t.column("address", .text)
                t.column("state", .text).notNull()
                t.column("installedGeneration", .integer)
            }
            try db.create(table: "hardware") { t in
                t.primaryKey("mac", .text).references("machine", onDelete: .cascade)
                t.column("reportedAt", .datetime).notNull()
                t.column("json", .text).notNull()
            }
            try db.create(table: "install") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("mac", .text).notNull().indexed().references("machine", onDelete: .cascade)
                t.column("generation", .integer).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime)
                t.column("failedAt", .datetime)
                t.column("failure", .text)
            }
            try db.create(table: "event") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("mac", .text).indexed()
                t.column("at", .datetime).notNull()
                t.column("kind", .text).notNull()
                t.column("message", .text).notNull()
            }
        }
        migrator.registerMigration("v2: bmc readings") { db in
            // Keyed by MAC like the rest, without a reference to `machine`: a BMC is read
            // before its machine ever boots through dploy.
            try db.create(table: "bmcReading") { t in
                t.primaryKey("mac", .text)
                t.column("readAt", .datetime).notNull()
                t.column("power", .text)
                t.column("health", .text)
                t.column("model", .text)
                t.column("serial", .text)
                t.column("biosVersion", .text)
                t.column("bmcFirmware", .text)
                t.column("error", .text)
            }
        }
        migrator.registerMigration("v3: task runs") { db in
            // One row per task, revision and machine, and never a second: the unique key is
            // what makes a task run at most once, also when two runners race for it.
            try db.create(table: "taskRun") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("task", .text).notNull()
                t.column("revision", .text).notNull()
                t.column("machine", .text).notNull()
                t.column("mac", .text).indexed()
                t.column("action", .text).notNull()
                t.column("state", .text).notNull()
                t.column("startedAt", .datetime)
                t.column("finishedAt", .datetime)
                t.column("deadline", .datetime)
                t.column("exitCode", .integer)
                t.column("output", .text)
                t.column("error", .text)
                t.uniqueKey(["task", "revision", "machine"])
            }
        }
        migrator.registerMigration("v4: hardware changes, firmware readings") { db in
            // What the newest hardware report changed against the one before it (one line
            // per part; NULL when nothing did or there was none), and the BMC's firmware
            // inventory as JSON, so conditions can be shown without reading any BMC.
            try db.alter(table: "hardware") { t in
                t.add(column: "changes", .text)
            }
            try db.alter(table: "bmcReading") { t in
                t.add(column: "firmware", .text)
            }
        }
        migrator.registerMigration("v5: bmc jobs") { db in
            // Long BMC work, recorded before it starts. Keyed by machine name (what the plan
            // and the job's BMC are found by); the MAC is kept for events and pages.
            try db.create(table: "bmcJob") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("machine", .text).notNull()
                t.column("mac", .text)
                t.column("kind", .text).notNull()
                t.column("step", .text).notNull()
                t.column("payload", .text).notNull()
                t.column("state", .text).notNull()
                t.column("createdAt", .datetime).notNull()
                t.column("startedAt", .datetime)
                t.column("submittedAt", .datetime)
                t.column("finishedAt", .datetime)
                t.column("tracking", .text)
                t.column("status", .text)
                t.column("percent", .integer)
                t.column("error", .text)
            }
            // At most one queued or running job per machine and step, also when two callers
            // enqueue at once: the index refuses the second row. (PostgreSQL has the same
            // partial unique index.)
            try db.execute(sql: """
                CREATE UNIQUE INDEX bmcJob_active ON bmcJob(machine, step) WHERE state IN ('queued', 'running')
                """)
            try db.create(index: "bmcJob_state", on: "bmcJob", columns: ["state"])
            // When an operator last resumed a halted firmware rollout (by baseline name):
            // failures before it no longer halt it.
            try db.create(table: "rolloutResume") { t in
                t.primaryKey("name", .text)
                t.column("resumedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6: sites") { db in
            // Jobs are claimed by their site's controller; jobs made before sites were the
            // one site's, `default`.
            try db.alter(table: "bmcJob") { t in
                t.add(column: "site", .text).notNull().defaults(to: "default")
            }
            // Each site's leader's last run (one row a site), for status and the page.
            try db.create(table: "siteRun") { t in
                t.primaryKey("site", .text)
                t.column("holder", .text).notNull()
                t.column("trigger", .text).notNull()
                t.column("result", .text).notNull()
                t.column("source", .text)
                t.column("message", .text).notNull()
                t.column("startedAt", .datetime).notNull()
                t.column("finishedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v7: shared secrets") { db in
            // What a PostgreSQL store's controllers share (the install callbacks' key), kept
            // here when such a store is backed up or copied to SQLite, so that copying it back
            // gives its controllers the same key and the tokens handed out stay good. An SQLite
            // controller's own key stays in STATE/callback.key.
            try db.create(table: "sharedSecret") { t in
                t.primaryKey("name", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v8: smart array controllers") { db in
            // How many Smart Array controllers the iLO reported: the machine page shows its
            // ACU link only where there is one.
            try db.alter(table: "bmcReading") { t in
                t.add(column: "smartArrayControllers", .integer)
            }
        }
        migrator.registerMigration("v9: bios attributes") { db in
            // Each machine's BIOS attribute names and value types as its newest reading listed
            // them (`BIOSAttributeTypes.text`), so specs are checked against them by commands
            // that read no BMC. A table of its own, not a column of `bmcReading`: that row is
            // rewritten by every BMC round, and ~6 KB a machine need not be, as it rarely
            // changes (written only when it does).
            try db.create(table: "biosAttributes") { t in
                t.primaryKey("mac", .text)
                t.column("attributes", .text).notNull()
            }
        }
        return migrator
    }()

    /// Names of the migrations, oldest first: the store's versions.
    static var versions: [String] { migrator.migrations }
}
