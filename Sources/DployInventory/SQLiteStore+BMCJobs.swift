import DploySpec
import Foundation
import GRDB

/// BMC jobs in the embedded store. Each method is one transaction; SQLite has one writer at
/// a time, so a read followed by a write inside `pool.write` is what PostgreSQL would need
/// `SELECT … FOR UPDATE SKIP LOCKED` for.
extension SQLiteStore {
    public func enqueueBMCJob(_ job: BMCJob) throws -> BMCJob? {
        try pool.write { db in
            let active = try BMCJobRow.filter(Column("machine") == job.machine && Column("step") == job.step
                                              && [BMCJobState.queued, .running].contains(Column("state"))).fetchCount(db)
            if active > 0 { return nil }
            var row = BMCJobRow(job)
            row.id = nil
            row.state = .queued
            row.startedAt = nil
            row.submittedAt = nil
            row.finishedAt = nil
            row.tracking = nil
            row.status = nil
            row.percent = nil
            row.error = nil
            try row.insert(db)
            row.id = db.lastInsertedRowID
            return try row.job()
        }
    }

    public func claimBMCJob(site: String, at: Date) throws -> BMCJob? {
        try pool.write { db in
            let next = try BMCJobRow.fetchOne(db, sql: """
                SELECT * FROM bmcJob q WHERE q.state = 'queued' AND q.site = ?
                AND NOT EXISTS (SELECT 1 FROM bmcJob r WHERE r.machine = q.machine AND r.state = 'running')
                ORDER BY q.id LIMIT 1
                """, arguments: [site])
            guard var row = next else { return nil }
            row.state = .running
            row.startedAt = at
            try row.update(db)
            return try row.job()
        }
    }

    public func updateBMCJob(_ id: Int64, _ update: BMCJobUpdate) throws -> Bool {
        try pool.write { db in
            guard var row = try BMCJobRow.fetchOne(db, key: id), row.state == .running else { return false }
            if update.submittedAt != nil && row.submittedAt != nil { return false }
            if let submittedAt = update.submittedAt { row.submittedAt = submittedAt }
            if let tracking = update.tracking { row.tracking = tracking }
            if let status = update.status { row.status = String(status.prefix(200)) }
            if let percent = update.percent { row.percent = percent }
            try row.update(db)
            return true
        }
    }

    public func finishBMCJob(_ id: Int64, _ state: BMCJobState, error: String?, at: Date) throws -> Bool {
        precondition([.succeeded, .failed, .cancelled].contains(state), "a job ends succeeded, failed or cancelled")
        return try pool.write { db in
            guard var row = try BMCJobRow.fetchOne(db, key: id), row.state == .running else { return false }
            row.state = state
            row.finishedAt = at
            row.error = error.map { String($0.prefix(2000)) }
            if state == .succeeded { row.percent = 100 }
            try row.update(db)
            if state == .failed {
                try db.execute(sql: """
                    UPDATE bmcJob SET state = 'skipped', finishedAt = ?, error = ? WHERE machine = ? AND state = 'queued'
                    """, arguments: [StoreDate.text(at), "not run: job \(id) (\(row.step)) of this machine failed", row.machine])
            }
            return true
        }
    }

    public func bmcJobs(states: Set<BMCJobState>?, kinds: Set<BMCJobKind>?, machine: String?, limit: Int) throws -> [BMCJob] {
        try pool.read { db in
            var request = BMCJobRow.order(Column("id").desc).limit(limit)
            if let states { request = request.filter(states.map(\.rawValue).contains(Column("state"))) }
            if let kinds { request = request.filter(kinds.map(\.rawValue).contains(Column("kind"))) }
            if let machine { request = request.filter(Column("machine") == machine) }
            return try request.fetchAll(db).map { try $0.job() }
        }
    }

    public func latestBMCJobs() throws -> [BMCJob] {
        try pool.read { db in
            try BMCJobRow.fetchAll(db, sql: """
                SELECT * FROM bmcJob WHERE id IN (SELECT max(id) FROM bmcJob GROUP BY machine, step) ORDER BY id
                """).map { try $0.job() }
        }
    }
}

extension SQLiteStore {
    public func resumeRollout(_ name: String, at: Date) throws {
        try pool.write { db in try RolloutResumeRow(name: name, resumedAt: at).save(db) }
    }

    public func rolloutResumes() throws -> [String: Date] {
        try pool.read { db in
            Dictionary(try RolloutResumeRow.fetchAll(db).map { ($0.name, $0.resumedAt) }) { _, last in last }
        }
    }
}

struct RolloutResumeRow: StoreRow {
    static let databaseTableName = "rolloutResume"
    var name: String
    var resumedAt: Date
}

struct BMCJobRow: StoreRow {
    static let databaseTableName = "bmcJob"
    var id: Int64?
    var machine: String
    var mac: String?
    var site: String
    var kind: BMCJobKind
    var step: String
    var payload: String
    var state: BMCJobState
    var createdAt: Date
    var startedAt: Date?
    var submittedAt: Date?
    var finishedAt: Date?
    var tracking: String?
    var status: String?
    var percent: Int?
    var error: String?

    init(_ job: BMCJob) {
        id = job.id
        machine = job.machine
        mac = job.mac?.description
        site = job.site
        kind = job.kind
        step = job.step
        payload = job.payload
        state = job.state
        createdAt = job.createdAt
        startedAt = job.startedAt
        submittedAt = job.submittedAt
        finishedAt = job.finishedAt
        tracking = job.tracking
        status = job.status
        percent = job.percent
        error = job.error
    }

    func job() throws -> BMCJob {
        guard let id else { throw StoreError.corruptRow("bmcJob", machine, "no id") }
        var address: MACAddress?
        if let mac {
            guard let parsed = MACAddress(mac) else { throw StoreError.corruptRow("bmcJob", "\(id)", "mac '\(mac)' is not a MAC address") }
            address = parsed
        }
        return BMCJob(id: id, machine: machine, mac: address, site: site, kind: kind, step: step, payload: payload, state: state,
                      createdAt: createdAt, startedAt: startedAt, submittedAt: submittedAt, finishedAt: finishedAt,
                      tracking: tracking, status: status, percent: percent, error: error)
    }
}

extension BMCJobKind: DatabaseValueConvertible {}
extension BMCJobState: DatabaseValueConvertible {}
