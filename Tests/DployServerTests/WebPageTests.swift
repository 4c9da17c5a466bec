import DployController
@testable import DployInventory
import DployRender
@testable import DployServer
import DploySpec
import DployTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The web page and the API over real HTTP: who gets in, and what an operator sees.
@Suite("web page and API access", .ownThread)
struct WebPageTests {
    typealias Lab = BootServerTests.Lab
    let http = BootServerTests()

    /// `htpasswd -B -C 4` of user "ops", password "correct horse".
    static let htpasswd = "# operators\nops:$2b$04$s5/wu0P2GTQadW.psFkxi.l6S9nDlJzJJ05UitsH1gVUeBpD4fcty\n"

    func server(_ lab: Lab, users: [String: String] = [:], clock: WallClock = .system) throws -> BootHTTPServer {
        let live = LiveDesired(store: try lab.store(), server: try lab.reconciler.settings.server, discovery: nil)
        live.update(try lab.reconciler.loadDesired())
        return BootHTTPServer(controller: FleetController(live: live, clock: clock),
                              auth: WebAuth(token: BootServerTests.token, users: users, clock: clock),
                              extraLinks: ["ACU": "https://{host}:2381/hpe/acu"])
    }

    func request(_ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get,
                 headers: HTTPFields = [:], body: String = "") async throws -> (HTTPResponse.Status, HTTPFields, String) {
        try await client.execute(uri: uri, method: method, headers: headers, body: ByteBuffer(string: body)) {
            ($0.status, $0.headers, String(buffer: $0.body))
        }
    }

    @Test("a client that sent a wrong password waits before its next guess (429), and costs other clients nothing",
          .requires(.curl))
    func wrongPasswordsBackOff() async throws {
        let lab = try Lab()
        let file = lab.root.appendingPathComponent("htpasswd")
        try Data(Self.htpasswd.utf8).write(to: file)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try server(lab, users: try WebAuth.users(htpasswd: file.path), clock: clock.wallClock).router(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let basic: @Sendable (String) -> String = { "Basic " + Data("ops:\($0)".utf8).base64EncodedString() }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // The guesser (127.0.0.1): a wrong password, then at once another guess.
            #expect(try await request(client, "/v1/machines", headers: [.authorization: basic("guess-1")]).0 == .unauthorized)
            let (held, heldHeaders, _) = try await request(client, "/v1/machines", headers: [.authorization: basic("guess-2")])
            #expect(held == .tooManyRequests)
            #expect(heldHeaders[.retryAfter] == "1")
            // The wait doubles with each wrong guess.
            clock.advance(by: 1)
            #expect(try await request(client, "/v1/machines", headers: [.authorization: basic("guess-3")]).0 == .unauthorized)
            let (again, againHeaders, _) = try await request(client, "/v1/machines", headers: [.authorization: basic("guess-4")])
            #expect(again == .tooManyRequests && againHeaders[.retryAfter] == "2")

            // Meanwhile the operator, from another address, signs in with the password, and boots are answered.
            let operatorAnswer = try await Self.curl(["--interface", "127.0.0.2", "-u", "ops:correct horse",
                                                      "http://127.0.0.1:\(port)/v1/machines"])
            #expect(operatorAnswer.status == 200 && operatorAnswer.body.contains("web-01"))

            // 24 guessers at once, each from its own address: every one is answered (401, or 429 when
            // too many checks wait), and boot traffic still is.
            let answers = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 3..<27 {
                    group.addTask {
                        try await Self.curl(["--interface", "127.0.0.\(index)", "-u", "ops:wrong-\(index)",
                                             "http://127.0.0.1:\(port)/v1/machines"]).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(answers.count == 24 && answers.allSatisfy { $0 == 401 || $0 == 429 }, "\(answers)")
            let (boot, _, script) = try await request(client, "/boot.ipxe?mac=94:18:82:3a:5c:10")
            #expect(boot == .ok && script.hasPrefix("#!ipxe"))

            // Past its back-off, the guesser with the right password gets in.
            clock.advance(by: 2)
            #expect(try await request(client, "/v1/machines", headers: [.authorization: basic("correct horse")]).0 == .ok)
        }
    }

    /// curl's status and body, waited for on a thread of its own (the server answers on the test's thread).
    static func curl(_ arguments: [String]) async throws -> (status: Int, body: String) {
        let text = try await ServerCurl.get(["-w", "\n%{http_code}"] + arguments)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test("pages and the API need the token, a password user or the session cookie; boot endpoints do not")
    func access() async throws {
        let lab = try Lab()
        let file = lab.root.appendingPathComponent("htpasswd")
        try Data(Self.htpasswd.utf8).write(to: file)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try server(lab, users: try WebAuth.users(htpasswd: file.path), clock: clock.wallClock).router())
        try await app.test(.live) { client in
            for path in ["/", "/machines/web-01", "/groups", "/plan", "/tasks", "/source", "/v1/machines", "/v1/machines/web-01/events",
                         "/v1/tasks", "/v1/tasks/rotate-motd-2026-11"] {
                let (status, headers, body) = try await request(client, path)
                #expect(status == .unauthorized, "\(path)")
                #expect(headers[.wwwAuthenticate] == "Basic realm=\"dploy\", charset=\"UTF-8\"")
                #expect(body.contains("<form method=\"post\" action=\"/login\">"))
                #expect(!body.contains("web-01"), "nothing about the fleet before signing in")
                let (wrong, _, _) = try await request(client, path, headers: [.authorization: "Bearer not-the-token"])
                #expect(wrong == .unauthorized)
            }
            let basic = { (user: String, password: String) in "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }
            let (user, _, page) = try await request(client, "/", headers: [.authorization: basic("ops", "correct horse")])
            #expect(user == .ok)
            #expect(page.contains("web-01"))
            let (badPassword, _, _) = try await request(client, "/", headers: [.authorization: basic("ops", "wrong")])
            #expect(badPassword == .unauthorized)
            clock.advance(by: 60)  // past this client's back-off (see wrongPasswordsBackOff)
            let (noUser, _, _) = try await request(client, "/", headers: [.authorization: basic("root", "correct horse")])
            #expect(noUser == .unauthorized)

            let (refused, _, _) = try await request(client, "/login", method: .post,
                                                    headers: [.contentType: "application/x-www-form-urlencoded"], body: "token=guess")
            #expect(refused == .unauthorized)
            let (signedIn, headers, _) = try await request(client, "/login", method: .post,
                                                           headers: [.contentType: "application/x-www-form-urlencoded"],
                                                           body: "token=\(BootServerTests.token)")
            #expect(signedIn == .seeOther)
            let cookie = try #require(headers[.setCookie])
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age=43200"))
            #expect(!cookie.contains("Secure"), "server.url is http://: no TLS in front of dploy")
            #expect(!cookie.contains(BootServerTests.token), "the cookie is not the token itself")
            let session = String(cookie.prefix { $0 != ";" })
            let (withCookie, _, _) = try await request(client, "/plan", headers: [.cookie: session])
            #expect(withCookie == .ok)

            let (boot, _, script) = try await request(client, "/boot.ipxe?mac=94:18:82:3a:5c:10")
            #expect(boot == .ok && script.hasPrefix("#!ipxe"))
            let (agent, _, _) = try await request(client, "/agent.sh")
            #expect(agent == .ok)
        }
    }

    /// Issue 19: the cookie was HMAC(token), the same for every sign-in, valid until the token
    /// changed, and there was no way to sign out. Now each sign-in is a session of its own that
    /// the server ends after 12 hours or at `POST /logout`, whatever the browser still holds.
    @Test("a session ends at sign-out and after 12 hours, server-side; each sign-in is its own; a restart ends them all")
    func sessions() async throws {
        let lab = try Lab()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try server(lab, clock: clock.wallClock).router())
        let stolen = try await app.test(.live) { client in
            let first = try await signIn(client)
            let second = try await signIn(client)
            #expect(first != second, "each sign-in is a session of its own")
            let (page, _, html) = try await request(client, "/plan", headers: [.cookie: first])
            #expect(page == .ok)
            #expect(html.contains("<form method=\"post\" action=\"/logout\" class=\"sign-out\"><button type=\"submit\">Sign out</button></form>"))
            #expect(!WebPages.signIn.contains("action=\"/logout\""), "the sign-in page has no sign-out button")
            let (made, _, _) = try await request(client, "/plan", headers: [.cookie: "dploy_session=" + String(repeating: "ab", count: 32)])
            #expect(made == .unauthorized, "an id the server did not hand out")

            // Sign-out ends the session on the server and clears the cookie; a copy of it is refused.
            let (out, outHeaders, _) = try await request(client, "/logout", method: .post, headers: [.cookie: first])
            #expect(out == .seeOther && outHeaders[.location] == "/")
            let cleared = outHeaders[.setCookie] ?? "no Set-Cookie"
            #expect(cleared.hasPrefix("dploy_session=;") && cleared.contains("Max-Age=0"), "\(cleared)")
            #expect(try await request(client, "/plan", headers: [.cookie: first]).0 == .unauthorized, "signed out")
            #expect(try await request(client, "/plan", headers: [.cookie: second]).0 == .ok, "other sessions go on")

            // 12 hours after sign-in the server refuses the session, even from a browser that kept it.
            clock.advance(by: 12 * 3600 - 1)
            #expect(try await request(client, "/plan", headers: [.cookie: second]).0 == .ok)
            clock.advance(by: 2)
            #expect(try await request(client, "/plan", headers: [.cookie: second]).0 == .unauthorized, "expired")
            return try await signIn(client)
        }
        // A restart (which a new token needs) signs everyone out.
        let restarted = Application(router: try server(lab, clock: clock.wallClock).router())
        try await restarted.test(.live) { client in
            let (status, _, _) = try await request(client, "/plan", headers: [.cookie: stolen])
            #expect(status == .unauthorized)
        }
    }

    /// Signs in with the token; the session cookie as a browser sends it back (`dploy_session=ID`).
    func signIn(_ client: some TestClientProtocol) async throws -> String {
        let (status, headers, _) = try await request(client, "/login", method: .post,
                                                     headers: [.contentType: "application/x-www-form-urlencoded"],
                                                     body: "token=\(BootServerTests.token)")
        #expect(status == .seeOther)
        return String(try #require(headers[.setCookie]).prefix { $0 != ";" })
    }

    @Test("the session cookie is Secure when server.url is https://, and sessions are bounded")
    func secureCookie() async throws {
        let lab = try Lab()
        let live = LiveDesired(store: try lab.store(), server: BootServer(url: "https://dploy.example.net"), discovery: nil)
        let app = Application(router: BootHTTPServer(controller: FleetController(live: live), auth: WebAuth(token: "t")).router())
        try await app.test(.live) { client in
            let (_, headers, _) = try await request(client, "/login", method: .post,
                                                    headers: [.contentType: "application/x-www-form-urlencoded"], body: "token=t")
            #expect(try #require(headers[.setCookie]).contains("; Secure"))
            let (_, outHeaders, _) = try await request(client, "/logout", method: .post)
            #expect(try #require(outHeaders[.setCookie]).contains("; Secure"))
        }
        let sessions = WebAuth.Sessions()
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let ids = (0..<(WebAuth.Sessions.capacity + 1)).map { sessions.start(now: now.addingTimeInterval(Double($0))) }
        #expect(sessions.count == WebAuth.Sessions.capacity)
        #expect(!sessions.isValid(ids[0], now: now.addingTimeInterval(2_000)), "the session that ends soonest went")
        #expect(sessions.isValid(ids[1], now: now.addingTimeInterval(2_000)) && sessions.isValid(ids.last!, now: now.addingTimeInterval(2_000)))
    }

    @Test("the Tasks page, /v1/tasks and a machine's page show each target's run: pending, then as recorded")
    func tasks() async throws {
        let lab = try Lab()
        let store = try lab.store()
        let app = Application(router: try server(lab).router())
        let auth: HTTPFields = [.authorization: "Bearer \(BootServerTests.token)"]
        try await app.test(.live) { client in
            let (status, _, page) = try await request(client, "/tasks", headers: auth)
            #expect(status == .ok)
            #expect(page.contains("<section id=\"task-rotate-motd-2026-11\" data-task=\"rotate-motd-2026-11\">"))
            #expect(page.contains("<p>ssh as root: printf &#39;lab.example.net - managed by dploy - maintenance window Tue 06:00 UTC\\n&#39; &gt; /etc/motd <span class=\"muted\">pending 4</span></p>"))

            let (_, _, json) = try await request(client, "/v1/tasks/rotate-motd-2026-11", headers: auth)
            let row = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let revision = try #require(row["revision"] as? String)
            let key = TaskRunKey(task: "rotate-motd-2026-11", revision: revision, machine: "web-01")
            _ = try store.startTaskRun(TaskRun(key: key, mac: BootServerTests.web01, action: .ssh, state: .running, startedAt: Date()))
            _ = try store.finishTaskRun(key, .failed("exit code 1", exitCode: 1, output: "<b>no</b> motd"), at: Date())

            let (_, _, after) = try await request(client, "/tasks", headers: auth)
            #expect(after.contains("pending 3, failed 1"))
            #expect(after.contains("<td>exit code 1<pre>&lt;b&gt;no&lt;/b&gt; motd</pre></td>"), "output is text, never markup")
            let (_, _, machine) = try await request(client, "/machines/web-01", headers: auth)
            #expect(machine.contains("<table id=\"task-runs\">"))
            #expect(machine.contains("<td><a href=\"/tasks#task-rotate-motd-2026-11\">rotate-motd-2026-11</a></td><td><code>\(revision)</code></td><td class=\"state state-failed\">failed</td>"))
            let (missing, _, _) = try await request(client, "/v1/tasks/none", headers: auth)
            #expect(missing == .notFound)
        }
    }

    @Test("/v1/jobs and a machine's page show its BMC jobs, how far they are, and how they ended; /v1/jobs needs a login")
    func bmcJobs() async throws {
        let lab = try Lab()
        let store = try lab.store()
        func job(_ machine: String, _ step: String) -> BMCJob {
            BMCJob(machine: machine, mac: BootServerTests.web01, kind: .firmware, step: step, payload: "{}", createdAt: Date())
        }
        let flash = try #require(try store.enqueueBMCJob(job("web-01", "firmware iLO 5 3.08")))
        let rom = try #require(try store.enqueueBMCJob(job("web-01", "firmware System ROM U32 2.90")))
        _ = try store.claimBMCJob(site: "default", at: Date())
        _ = try store.updateBMCJob(flash.id, BMCJobUpdate(submittedAt: Date(), tracking: "hpe /redfish/v1/UpdateService", status: "Writing", percent: 40))
        let app = Application(router: try server(lab).router())
        let auth: HTTPFields = [.authorization: "Bearer \(BootServerTests.token)"]
        try await app.test(.live) { client in
            let (refused, _, _) = try await request(client, "/v1/jobs")
            #expect(refused == .unauthorized)
            let (status, _, json) = try await request(client, "/v1/jobs?active=true", headers: auth)
            #expect(status == .ok)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
            #expect(rows.map { $0["id"] as? Int } == [Int(rom.id), Int(flash.id)], "newest first")
            #expect(rows.last?["progress"] as? String == "in progress, 40 % (Writing)")
            #expect(rows.first?["state"] as? String == "queued")
            #expect(rows.allSatisfy { $0["payload"] == nil })

            _ = try store.finishBMCJob(flash.id, .failed, error: "the firmware update failed: Error", at: Date())
            let (_, _, active) = try await request(client, "/v1/jobs?active=true", headers: auth)
            #expect(active == "[]", "the failure skipped the machine's queued job")
            let (_, _, page) = try await request(client, "/machines/web-01", headers: auth)
            #expect(page.contains("<table id=\"bmc-jobs\">"))
            #expect(page.contains("<td>firmware iLO 5 3.08</td><td class=\"state state-failed\">failed</td><td>failed: the firmware update failed: Error</td>"), "\(page)")
            #expect(page.contains("<td class=\"state state-skipped\">skipped</td>"))
        }
    }

    @Test("a row the store cannot read is a 500 that names it, on the page and in the API, not an empty answer")
    func storeFailureNamed() async throws {
        let lab = try Lab()
        let store = try #require(try lab.store() as? SQLiteStore)
        try store.recordHardware(BootServerTests.web01, Hardware(vendor: "HPE", model: "DL360"), at: Date())
        try await store.pool.write { try $0.execute(sql: "UPDATE machine SET state = 'levitating'") }
        let app = Application(router: try server(lab).router())
        let auth: HTTPFields = [.authorization: "Bearer \(BootServerTests.token)"]
        try await app.test(.live) { client in
            for uri in ["/", "/v1/machines"] {
                let (status, _, body) = try await request(client, uri, headers: auth)
                #expect(status == .internalServerError, "\(uri)")
                #expect(body.contains("cannot answer from the store") && body.contains("levitating"), "\(uri): \(body)")
            }
            let (refused, _, body) = try await request(client, "/v1/machines")
            #expect(refused == .unauthorized && !body.contains("levitating"), "the reason is for signed-in operators only")
        }
    }

    @Test("the sign-in form takes a token with +, / and = as a browser encodes it")
    func signInEncoding() async throws {
        let lab = try Lab()
        let live = LiveDesired(store: try lab.store(), server: try lab.reconciler.settings.server, discovery: nil)
        let app = Application(router: BootHTTPServer(controller: FleetController(live: live),
                                                     auth: WebAuth(token: "a+b/c=")).router())
        try await app.test(.live) { client in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            let (encoded, _, _) = try await request(client, "/login", method: .post, headers: form, body: "token=a%2Bb%2Fc%3D")
            #expect(encoded == .seeOther)
            let (spaced, _, _) = try await request(client, "/login", method: .post, headers: form, body: "token=a+b%2Fc%3D")
            #expect(spaced == .unauthorized, "a bare + in a form is a space")
        }
    }

    @Test("the server list pages a large fleet: every machine once, out-of-range pages clamped")
    func paging() {
        let machines = Array(1...1_234)
        let pages = (1...3).map { WebPages.page(machines, number: $0, size: 500) }
        #expect(pages.map(\.pages) == [3, 3, 3])
        #expect(pages.flatMap(\.items) == machines)
        #expect(WebPages.page(machines, number: 99, size: 500).page == 3)
        #expect(WebPages.page(machines, number: -1, size: 500).items.first == 1)
        #expect(WebPages.page([Int](), number: 1, size: 500).pages == 1)
    }

    @Test("an htpasswd file with anything but bcrypt entries is refused with its line")
    func htpasswdRefusesWeakHashes() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("htpasswd-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("ops:$2b$04$s5/wu0P2GTQadW.psFkxi.l6S9nDlJzJJ05UitsH1gVUeBpD4fcty\nold:$apr1$abc$def\n".utf8).write(to: file)
        #expect(throws: WebAuthError.self) { try WebAuth.users(htpasswd: file.path) }
        do {
            _ = try WebAuth.users(htpasswd: file.path)
        } catch {
            #expect(String(describing: error) == "\(file.path):2: only bcrypt entries are accepted (htpasswd -B)")
        }
    }

    @Test("the server list and a machine page show state, hardware and links; agent text is escaped")
    func pages() async throws {
        let lab = try Lab()
        let app = Application(router: try server(lab).router())
        // An agent can send anything: markup in its report must stay text on the page.
        let report = """
            {"id": "web-01", "class": "system", "vendor": "HPE <script>alert(1)</script>", "product": "ProLiant DL360 Gen10",
             "serial": "CZJ0000001", "children": []}
            """
        let bearer: HTTPFields = [.authorization: "Bearer \(BootServerTests.token)"]
        try await app.test(.live) { client in
            // Stored as the controller takes a report from web-01 (the test client is not at its address).
            try lab.store().recordHardware(BootServerTests.web01, try LshwReport.parse(Array(report.utf8)), at: Date())
            let (status, _, list) = try await request(client, "/", headers: bearer)
            #expect(status == .ok)
            #expect(list.contains("<tr data-machine=\"web-01\">"))
            #expect(list.contains("<td class=\"state state-known\">known</td>"))
            #expect(list.contains("<td class=\"state state-never-seen\">never seen</td>"))
            #expect(list.contains("HPE &lt;script&gt;alert(1)&lt;/script&gt; ProLiant DL360 Gen10"))
            #expect(!list.contains("<script>"))
            #expect(list.contains("CZJ0000001"))
            #expect(list.contains("href=\"https://198.18.0.121\" class=\"link-ilo\""))
            #expect(list.contains("href=\"https://198.18.0.21:2381/\" class=\"link-smh\""))
            #expect(list.contains("href=\"https://198.18.0.21:10000/\" class=\"link-webmin\""))
            // No iLO reading says web-01 has a Smart Array yet: no ACU link, on the list or its page.
            #expect(!list.contains("/hpe/acu"))
            #expect(try await request(client, "/machines/web-01", headers: bearer).2.contains("href=\"https://198.18.0.121\" class=\"link-ilo\""))
            #expect(!(try await request(client, "/machines/web-01", headers: bearer).2.contains("/hpe/acu")))
            let (one, _, machine) = try await request(client, "/machines/web-04", headers: bearer)
            #expect(one == .ok)
            #expect(machine.contains("<td><code>profile</code></td><td>debian-12</td><td class=\"muted\">from group web ("))
            let (byMAC, _, web01) = try await request(client, "/machines/94-18-82-3a-5c-10", headers: bearer)
            #expect(byMAC == .ok)
            // Its conditions: reported once (so nothing changed), never installed, the lab reads no BMC.
            #expect(web01.contains("<tr data-condition=\"Ready\"><td>Ready</td><td class=\"condition-False\">False</td><td><code>neverInstalled</code></td>"))
            #expect(web01.contains("<tr data-condition=\"PowerInSync\"><td>PowerInSync</td><td class=\"condition-Unknown\">Unknown</td><td><code>bmcNotRead</code></td>"))
            #expect(web01.contains("<tr data-condition=\"FirmwareInSync\"><td>FirmwareInSync</td><td class=\"condition-Unknown\">Unknown</td><td><code>firmwareNotRead</code></td><td>baseline gen10-2026-10;"))
            #expect(web01.contains("<tr data-condition=\"HardwareChanged\"><td>HardwareChanged</td><td class=\"condition-False\">False</td><td><code>hardwareUnchanged</code></td>"))
            // Its iLO reports one (and web-02's reports none): the ACU link is on web-01's row and page only.
            try lab.store().recordBMCReadings([BMCRecord(mac: BootServerTests.web01, readAt: Date(), power: "On", smartArrayControllers: 1),
                                               BMCRecord(mac: try #require(MACAddress("94:18:82:3a:5c:2e")), readAt: Date(), power: "On",
                                                         smartArrayControllers: 0)])
            let (_, _, withArray) = try await request(client, "/", headers: bearer)
            #expect(withArray.contains("href=\"https://198.18.0.21:2381/hpe/acu\" class=\"link-extra\""))
            #expect(withArray.components(separatedBy: "/hpe/acu").count == 2, "one ACU link, web-01's")
            let (_, _, web01Page) = try await request(client, "/machines/web-01", headers: bearer)
            #expect(web01Page.contains("href=\"https://198.18.0.21:2381/hpe/acu\" class=\"link-extra\""))

            let (missing, _, notFound) = try await request(client, "/machines/web-99", headers: bearer)
            #expect(missing == .notFound)
            #expect(notFound.contains("No machine is named &#39;web-99&#39;"))
            let (_, _, filtered) = try await request(client, "/?q=DB-", headers: bearer)
            #expect(filtered.contains("<tr data-machine=\"db-01\">") && !filtered.contains("<tr data-machine=\"web-01\">"))
            #expect(filtered.contains("<h1>Servers <small>3</small></h1>"))
            let (_, _, escapedQuery) = try await request(client, "/?q=%22%3E%3Cscript%3E", headers: bearer)
            #expect(escapedQuery.contains("value=\"&quot;&gt;&lt;script&gt;\"") && !escapedQuery.contains("\"><script>"))
            let (_, _, groups) = try await request(client, "/groups", headers: bearer)
            #expect(groups.contains("<tr data-group=\"web\">"))
        }
    }
}
