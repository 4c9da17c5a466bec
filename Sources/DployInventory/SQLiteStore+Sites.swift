import Foundation
import GRDB

/// The embedded store's sites: one controller writes it, so its one row is its own site's
/// last run, and no lease to show (the lock file is the leader's).
extension SQLiteStore {
    public func recordSiteRun(_ run: SiteRun) throws {
        try pool.write { db in try SiteRunRow(run).save(db) }
    }

    public func sites() throws -> [SiteStatus] {
        try pool.read { db in
            try SiteRunRow.order(Column("site")).fetchAll(db).map { SiteStatus(site: $0.site, lastRun: $0.run) }
        }
    }
}

struct SiteRunRow: StoreRow {
    static let databaseTableName = "siteRun"
    var site: String
    var holder: String
    var trigger: String
    var result: String
    var source: String?
    var message: String
    var startedAt: Date
    var finishedAt: Date

    init(_ run: SiteRun) {
        site = run.site
        holder = run.holder
        trigger = run.trigger
        result = run.result
        source = run.source
        message = run.message
        startedAt = run.startedAt
        finishedAt = run.finishedAt
    }

    var run: SiteRun {
        SiteRun(site: site, holder: holder, trigger: trigger, result: result, source: source, message: message,
                startedAt: startedAt, finishedAt: finishedAt)
    }
}
