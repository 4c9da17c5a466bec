import DployTestSupport
import Foundation
import Testing

extension ServeCommandTests {
    @Test("two sites on one PostgreSQL store: each controller leads its own site, writes only its machines' files, and shows both sites",
          .requires(.postgres, .initdb, .psql))
    func twoSitesOneStore() async throws {
        let here = try makeSite()
        defer { try? FileManager.default.removeItem(at: here.root) }
        let server = try PostgresServer.shared()
        let database = try server.newDatabase()
        _ = FileManager.default.createFile(atPath: here.root.appendingPathComponent("secrets/db.password").path,
                                           contents: Data((server.password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        let config = try String(contentsOfFile: here.config, encoding: .utf8).replacingOccurrences(
            of: "store: {sqlite: state/dploy.db}",
            with: "store: {postgres: {url: '\(database.url)', passwordFile: secrets/db.password, tls: disable, lease: 3s}}")
        try Data(config.utf8).write(to: URL(fileURLWithPath: here.config))
        // London's machine, marked by its label; the lab's other machines name no site.
        try source.shell("""
            cd upstream && printf 'apiVersion: dploy.org/v1\\nkind: Machine\\nmetadata: {name: lon-web-01, labels: {site: lon}}\\nspec: {mac: "94:18:82:10:00:01"}\\n' \
            > site-a/machines/lon-web-01.yaml && git add -A && git commit -q -m 'add a London machine'
            """, in: here.root)

        let london = Site(root: here.root.appendingPathComponent("london"))
        try FileManager.default.createDirectory(at: london.root.appendingPathComponent("state"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: here.root.appendingPathComponent("secrets"), to: london.root.appendingPathComponent("secrets"))
        try Data(("site: lon\n" + config).utf8).write(to: URL(fileURLWithPath: london.config))

        let first = try await Daemon(site: here)
        let second = try await Daemon(site: london)
        #expect(try await started(first), "\(first.log)")
        #expect(try await started(second), "\(second.log)")
        #expect(try status(first.port)?["role"] as? String == "apply", "each site has a leader of its own")
        #expect(try status(second.port)?["role"] as? String == "apply", "\(second.log)")

        // Each writes its own site's machines, and nothing of the other's.
        #expect(here.file(Self.ipxeFile("94:18:82:3a:5c:10"))?.contains("# dploy: web-01 (") == true)
        #expect(here.file(Self.ipxeFile("94:18:82:10:00:01")) == nil, "London's machine is London's")
        #expect(london.file(Self.ipxeFile("94:18:82:10:00:01"))?.contains("# dploy: lon-web-01 (") == true, "\(second.log)")
        #expect(london.file(Self.ipxeFile("94:18:82:3a:5c:10")) == nil)

        // Either controller shows both sites: their leaders and last runs.
        let sitesAnswer = try curl(["-u", "ops:correct horse", "http://127.0.0.1:\(first.port)/v1/sites"])
        let sites = try #require(try JSONSerialization.jsonObject(with: Data(sitesAnswer.body.utf8)) as? [[String: Any]], "\(sitesAnswer.body)")
        #expect(sites.compactMap { $0["site"] as? String } == ["default", "lon"])
        #expect(sites.allSatisfy { $0["led"] as? Bool == true }, "\(sites)")
        #expect(sites.allSatisfy { ($0["lastRun"] as? [String: Any])?["result"] as? String == "converged" }, "\(sites)")
        let statusRun = try CommandLineTests().dploy("status", "--config", london.config)
        #expect(statusRun.status == 0, "\(statusRun.stderr)")
        #expect(statusRun.stdout.contains("site:         lon"), "\(statusRun.stdout)")
        #expect(statusRun.stdout.contains("  default: led by pid \(first.process.processIdentifier) on "), "\(statusRun.stdout)")
        #expect(statusRun.stdout.contains("  lon: led by pid \(second.process.processIdentifier) on "), "\(statusRun.stdout)")
        let page = try curl(["-u", "ops:correct horse", "http://127.0.0.1:\(second.port)/source"])
        #expect(page.body.contains("<tr data-site=\"default\">") && page.body.contains("<tr data-site=\"lon\">"), "\(page.body)")

        // London's leader stops: London has no leader, and this site's lead is untouched.
        #expect(try await second.terminate() == 0)
        let after = try CommandLineTests().dploy("status", "--config", here.config)
        #expect(after.stdout.contains("  lon: no leader (the lease of pid \(second.process.processIdentifier) on "), "\(after.stdout)")
        #expect(try status(first.port)?["role"] as? String == "apply")
        #expect(try await first.terminate() == 0)

        // The database away: status says the store cannot be read, not that there is no site.
        let away = config.replacingOccurrences(of: database.url, with: "postgres://dploy@/dploy?host=\(london.root.path)/no-db&port=1")
        try Data(("site: lon\n" + away).utf8).write(to: URL(fileURLWithPath: london.config))
        let unread = try CommandLineTests().dploy("status", "--config", london.config)
        #expect(unread.status == 0, "\(unread.stderr)")
        #expect(unread.stdout.contains("store:        cannot read it (") && unread.stdout.contains("BMC jobs and sites unknown"), "\(unread.stdout)")
    }
}
