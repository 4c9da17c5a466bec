import Foundation

/// The PostgreSQL store's schema, one named migration per change, as `StoreSchema` is for
/// SQLite. A released migration is never edited. The first one holds everything the SQLite
/// store had grown to when this store was written: no PostgreSQL store predates it.
///
/// Columns are snake_case (PostgreSQL folds unquoted names to lower case); dates are
/// `timestamp(3)` in UTC, read back through `StoreDate`.
enum PostgresSchema {
    static let migrations: [(name: String, sql: String)] = [
        ("p1: machines, hardware, installs, events, bmc readings, task runs, leader", """
            CREATE TABLE machine (
                mac text PRIMARY KEY,
                first_seen timestamp(3) NOT NULL,
                last_seen timestamp(3) NOT NULL,
                address text,
                state text NOT NULL,
                installed_generation integer
            );
            CREATE TABLE hardware (
                mac text PRIMARY KEY REFERENCES machine ON DELETE CASCADE,
                reported_at timestamp(3) NOT NULL,
                json text NOT NULL,
                changes text
            );
            CREATE TABLE install (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                mac text NOT NULL REFERENCES machine ON DELETE CASCADE,
                generation integer NOT NULL,
                started_at timestamp(3) NOT NULL,
                finished_at timestamp(3),
                failed_at timestamp(3),
                failure text
            );
            CREATE INDEX install_mac ON install (mac, id);
            CREATE TABLE event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                mac text,
                at timestamp(3) NOT NULL,
                kind text NOT NULL,
                message text NOT NULL
            );
            CREATE INDEX event_mac ON event (mac, id);
            CREATE INDEX event_at ON event (at);
            -- Keyed by MAC without a reference to machine: a BMC is read before its machine boots.
            CREATE TABLE bmc_reading (
                mac text PRIMARY KEY,
                read_at timestamp(3) NOT NULL,
                power text,
                health text,
                model text,
                serial text,
                bios_version text,
                bmc_firmware text,
                error text,
                firmware text
            );
            -- The unique key is what makes a task run at most once, also across controllers.
            CREATE TABLE task_run (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                task text NOT NULL,
                revision text NOT NULL,
                machine text NOT NULL,
                mac text,
                action text NOT NULL,
                state text NOT NULL,
                started_at timestamp(3),
                finished_at timestamp(3),
                deadline timestamp(3),
                exit_code integer,
                output text,
                error text,
                UNIQUE (task, revision, machine)
            );
            CREATE INDEX task_run_mac ON task_run (mac, id);
            -- One row per site: who leads it, under which term, until when (see PostgresLeaderLease).
            CREATE TABLE leader (
                site text PRIMARY KEY,
                term bigint NOT NULL,
                holder text NOT NULL,
                backend_pid integer NOT NULL,
                since timestamp(3) NOT NULL,
                renewed_at timestamp(3) NOT NULL,
                expires_at timestamp(3) NOT NULL
            );
            """),
        ("p2: shared secrets", """
            -- What every controller of the store must hold alike (the install callbacks' key).
            -- Copied by dploy store copy and backup, so a copy's controllers keep the key.
            CREATE TABLE shared_secret (
                name text PRIMARY KEY,
                value text NOT NULL
            );
            """),
        ("p3: bmc jobs", """
            -- Long BMC work, recorded before it starts (SQLite's v5). At most one queued or
            -- running job per machine and step, and one running job per machine: the indexes
            -- refuse the second row when two controllers' workers race.
            CREATE TABLE bmc_job (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                machine text NOT NULL,
                mac text,
                kind text NOT NULL,
                step text NOT NULL,
                payload text NOT NULL,
                state text NOT NULL,
                created_at timestamp(3) NOT NULL,
                started_at timestamp(3),
                submitted_at timestamp(3),
                finished_at timestamp(3),
                tracking text,
                status text,
                percent integer,
                error text
            );
            CREATE UNIQUE INDEX bmc_job_active ON bmc_job (machine, step) WHERE state IN ('queued', 'running');
            CREATE UNIQUE INDEX bmc_job_running ON bmc_job (machine) WHERE state = 'running';
            CREATE INDEX bmc_job_state ON bmc_job (state, id);
            CREATE TABLE rollout_resume (
                name text PRIMARY KEY,
                resumed_at timestamp(3) NOT NULL
            );
            """),
        ("p4: sites", """
            -- Jobs are claimed by their site's controller; older jobs were the one site's.
            ALTER TABLE bmc_job ADD COLUMN site text NOT NULL DEFAULT 'default';
            -- Each site's leader's last run (one row a site), for every controller's status and page.
            CREATE TABLE site_run (
                site text PRIMARY KEY,
                holder text NOT NULL,
                trigger text NOT NULL,
                result text NOT NULL,
                source text,
                message text NOT NULL,
                started_at timestamp(3) NOT NULL,
                finished_at timestamp(3) NOT NULL
            );
            """),
        ("p5: smart array controllers", """
            -- How many Smart Array controllers the iLO reported (SQLite's v8): the ACU link.
            ALTER TABLE bmc_reading ADD COLUMN smart_array_controllers integer;
            """),
        ("p6: bios attributes", """
            -- Each machine's BIOS attribute names and value types (SQLite's v9), written only
            -- when they change: the leader's readings, which every controller of the site checks specs against.
            CREATE TABLE bios_attributes (
                mac text PRIMARY KEY,
                attributes text NOT NULL
            );
            """),
    ]

    /// Names of the migrations, oldest first: the store's versions.
    static var versions: [String] { migrations.map(\.name) }

    /// Any number stays the same across versions: it keeps two controllers that start at once
    /// from migrating together (`pg_advisory_xact_lock` waits for the other's transaction).
    private static let migrationLockKey = 0x6470_6C6F_7900

    /// Applies what is missing, in one transaction: a failed migration leaves the store as it was.
    static func migrate(_ connection: PostgresConnection, upTo last: String? = nil) throws {
        try connection.transaction { connection in
            // A migration of a big table may take longer than an ordinary statement may.
            try connection.execute("SET LOCAL statement_timeout = 0")
            try connection.execute("SELECT pg_advisory_xact_lock($1)", [migrationLockKey])
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS dploy_migration (
                    name text PRIMARY KEY,
                    applied_at timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))
                """)
            let applied = try appliedNames(connection)
            if let unknown = applied.first(where: { !versions.contains($0) }) {
                throw StoreError.notAStore(connection.settings.redactedURL,
                                           "it was written by a newer dploy (migration '\(unknown)')")
            }
            for migration in migrations {
                if !applied.contains(migration.name) {
                    try connection.execute(migration.sql, patience: .seconds(3600))
                    try connection.execute("INSERT INTO dploy_migration (name) VALUES ($1)", [migration.name])
                }
                if migration.name == last { break }
            }
        }
    }

    /// Refuses a database that is not a dploy store of this version, changing nothing.
    static func check(_ connection: PostgresConnection) throws {
        let exists = try connection.execute("SELECT to_regclass('dploy_migration') IS NOT NULL AS present").first?["present"]
        let where_ = connection.settings.redactedURL
        guard exists == "t" else { throw StoreError.notAStore(where_, "it has no dploy schema") }
        let applied = try appliedNames(connection)
        if applied.contains(where: { !versions.contains($0) }) { throw StoreError.notAStore(where_, "it was written by a newer dploy") }
        if versions.contains(where: { !applied.contains($0) }) {
            throw StoreError.notAStore(where_, "it is from an older dploy; dploy apply, or the daemon when it starts, migrates it")
        }
    }

    private static func appliedNames(_ connection: PostgresConnection) throws -> Set<String> {
        Set(try connection.execute("SELECT name FROM dploy_migration").all.compactMap { $0["name"] })
    }
}
