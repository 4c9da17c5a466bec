import Foundation

/// Sites in the shared store: each site's leader writes its last run (fenced, so a leader
/// that lost its lead cannot overwrite its successor's), and any controller reads them all,
/// beside the leader rows, for `dploy status` and the page.
extension PostgresStore {
    public func recordSiteRun(_ run: SiteRun) throws {
        try pool.transaction { connection in
            try checkFence(connection, site: run.site)
            try connection.execute("""
                INSERT INTO site_run (site, holder, trigger, result, source, message, started_at, finished_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (site) DO UPDATE SET holder = EXCLUDED.holder, trigger = EXCLUDED.trigger,
                    result = EXCLUDED.result, source = EXCLUDED.source, message = EXCLUDED.message,
                    started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at
                """, [run.site, run.holder, run.trigger, run.result, run.source.map { String($0.prefix(500)) },
                      String(run.message.prefix(2000)), run.startedAt, run.finishedAt])
        }
    }

    public func sites() throws -> [SiteStatus] {
        try pool.withConnection { connection in
            // The database's clock, read with the rows: a lease's end is compared with it.
            try connection.execute("""
                SELECT COALESCE(l.site, r.site) AS name, l.holder AS leader, l.term, l.since, l.expires_at,
                       (clock_timestamp() AT TIME ZONE 'UTC')::timestamp(3) AS read_at,
                       r.holder, r.trigger, r.result, r.source, r.message, r.started_at, r.finished_at
                FROM leader l FULL OUTER JOIN site_run r ON r.site = l.site
                ORDER BY name
                """).all.map { row in
                let name = row["name"] ?? ""
                var status = SiteStatus(site: name, readAt: row.date("read_at"))
                if let holder = row["leader"], let term = row["term"].flatMap({ Int64($0) }),
                   let since = row.date("since"), let expires = row.date("expires_at") {
                    status.leader = SiteStatus.Leader(holder: holder, term: term, since: since, expiresAt: expires)
                }
                if let holder = row["holder"], let trigger = row["trigger"], let result = row["result"],
                   let message = row["message"], let started = row.date("started_at"), let finished = row.date("finished_at") {
                    status.lastRun = SiteRun(site: name, holder: holder, trigger: trigger, result: result, source: row["source"],
                                             message: message, startedAt: started, finishedAt: finished)
                }
                return status
            }
        }
    }
}
