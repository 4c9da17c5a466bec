import DploySpec
import Foundation

/// BMC jobs in the shared store. What SQLite gets from its single writer, PostgreSQL gets
/// from keys: the partial unique indexes refuse a second active job per machine and step,
/// and a second running job per machine, and a claim skips rows another worker has locked.
/// Enqueuing and claiming are the leader's (fenced); a worker's progress and result are
/// written as they come.
extension PostgresStore {
    public func enqueueBMCJob(_ job: BMCJob) throws -> BMCJob? {
        try pool.transaction { connection in
            try checkFence(connection, site: job.site)
            let row = try connection.execute("""
                INSERT INTO bmc_job (machine, mac, site, kind, step, payload, state, created_at)
                VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7)
                ON CONFLICT DO NOTHING
                RETURNING *
                """, [job.machine, job.mac?.description, job.site, job.kind.rawValue, job.step, job.payload, job.createdAt]).first
            return try row.map(Self.bmcJob)
        }
    }

    public func claimBMCJob(site: String, at: Date) throws -> BMCJob? {
        do {
            return try pool.transaction { connection in
                try checkFence(connection, site: site)
                return try connection.execute("""
                    UPDATE bmc_job SET state = 'running', started_at = $1
                    WHERE id = (SELECT q.id FROM bmc_job q WHERE q.state = 'queued' AND q.site = $2
                                AND NOT EXISTS (SELECT 1 FROM bmc_job r WHERE r.machine = q.machine AND r.state = 'running')
                                ORDER BY q.id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING *
                    """, [at, site]).first.map(Self.bmcJob)
            }
        } catch StoreError.postgres("23505", _) {
            // Another worker started a job of the same machine at the same moment: next time.
            return nil
        }
    }

    public func updateBMCJob(_ id: Int64, _ update: BMCJobUpdate) throws -> Bool {
        try pool.transaction { connection in
            // The right to send the request is the leader's, under its term, and once.
            if update.submittedAt != nil { try checkFence(connection) }
            return try connection.execute("""
                UPDATE bmc_job SET submitted_at = COALESCE($2, submitted_at), tracking = COALESCE($3, tracking),
                    status = COALESCE($4, status), percent = COALESCE($5, percent)
                WHERE id = $1 AND state = 'running' AND ($2::timestamp(3) IS NULL OR submitted_at IS NULL)
                RETURNING id
                """, [id, update.submittedAt, update.tracking, update.status.map { String($0.prefix(200)) }, update.percent]).first != nil
        }
    }

    public func finishBMCJob(_ id: Int64, _ state: BMCJobState, error: String?, at: Date) throws -> Bool {
        precondition([.succeeded, .failed, .cancelled].contains(state), "a job ends succeeded, failed or cancelled")
        return try pool.transaction { connection in
            let row = try connection.execute("""
                UPDATE bmc_job SET state = $2, finished_at = $3, error = $4,
                    percent = CASE WHEN $2 = 'succeeded' THEN 100 ELSE percent END
                WHERE id = $1 AND state = 'running'
                RETURNING machine, step
                """, [id, state.rawValue, at, error.map { String($0.prefix(2000)) }]).first
            guard let row else { return false }
            if state == .failed {
                try connection.execute("""
                    UPDATE bmc_job SET state = 'skipped', finished_at = $1, error = $2 WHERE machine = $3 AND state = 'queued'
                    """, [at, "not run: job \(id) (\(row["step"] ?? "")) of this machine failed", row["machine"]])
            }
            return true
        }
    }

    public func bmcJobs(states: Set<BMCJobState>?, kinds: Set<BMCJobKind>?, machine: String?, limit: Int) throws -> [BMCJob] {
        try pool.withConnection { connection in
            let stateList = states.map { "{" + $0.map(\.rawValue).sorted().joined(separator: ",") + "}" }
            let kindList = kinds.map { "{" + $0.map(\.rawValue).sorted().joined(separator: ",") + "}" }
            return try connection.execute("""
                SELECT * FROM bmc_job WHERE ($1::text[] IS NULL OR state = ANY($1::text[])) AND ($2::text IS NULL OR machine = $2)
                AND ($4::text[] IS NULL OR kind = ANY($4::text[]))
                ORDER BY id DESC LIMIT $3
                """, [stateList, machine, min(limit, Int(Int32.max)), kindList]).all.map(Self.bmcJob)
        }
    }

    public func latestBMCJobs() throws -> [BMCJob] {
        try pool.withConnection { connection in
            try connection.execute("SELECT DISTINCT ON (machine, step) * FROM bmc_job ORDER BY machine, step, id DESC").all
                .map(Self.bmcJob).sorted { $0.id < $1.id }
        }
    }

    public func resumeRollout(_ name: String, at: Date) throws {
        try pool.withConnection { connection in
            _ = try connection.execute("""
                INSERT INTO rollout_resume (name, resumed_at) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET resumed_at = EXCLUDED.resumed_at
                """, [name, at])
        }
    }

    public func rolloutResumes() throws -> [String: Date] {
        try pool.withConnection { connection in
            try connection.execute("SELECT name, resumed_at FROM rollout_resume").all.reduce(into: [:]) { resumes, row in
                if let name = row["name"], let at = row.date("resumed_at") { resumes[name] = at }
            }
        }
    }

    static func bmcJob(_ row: PostgresRow) throws -> BMCJob {
        let key = row["id"] ?? ""
        guard let id = row["id"].flatMap({ Int64($0) }) else { throw StoreError.corruptRow("bmcJob", key, "no id") }
        var mac: MACAddress?
        if let text = row["mac"] {
            guard let parsed = MACAddress(text) else { throw StoreError.corruptRow("bmcJob", key, "mac '\(text)' is not a MAC address") }
            mac = parsed
        }
        return BMCJob(id: id, machine: try row.required("machine", table: "bmcJob", key: key), mac: mac,
                      site: try row.required("site", table: "bmcJob", key: key),
                      kind: try known(BMCJobKind.self, row["kind"], column: "kind", table: "bmcJob", key: key),
                      step: try row.required("step", table: "bmcJob", key: key), payload: try row.required("payload", table: "bmcJob", key: key),
                      state: try known(BMCJobState.self, row["state"], column: "state", table: "bmcJob", key: key),
                      createdAt: try row.requiredDate("created_at", table: "bmcJob", key: key), startedAt: row.date("started_at"),
                      submittedAt: row.date("submitted_at"), finishedAt: row.date("finished_at"), tracking: row["tracking"],
                      status: row["status"], percent: row.int("percent"), error: row["error"])
    }
}
