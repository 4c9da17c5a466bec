import DployController
import DployInventory
import DployPlan
import DployRender
import DploySpec
import Foundation
import Hummingbird
import Logging

/// Everything `dploy serve` answers over HTTP.
///
/// Open to the boot network (each with its own proof where it changes state):
/// - `GET /boot.ipxe?mac=…`: the boot decision (`BootDecisions`); without `mac`, the entry
///   script that chains back here with `${net0/mac}`.
/// - `GET /agent.sh`: the discovery agent.
/// - `POST /v1/inventory?mac=…`: an `lshw -json` report (application/json, at most 4 MiB).
/// - `POST /v1/machines/{mac}/installed?generation=N&token=T`: an installer calling back.
/// - `GET /imaging.sh`, `GET|POST /v1/imaging/{mac}[/progress|/done|/failed]?token=T`: the
///   imaging environment of an image-capture or -restore task (`addImagingRoutes`).
/// - `POST /v1/hooks/git`: a signed push notification (`Webhook`), counted once.
/// - `POST /login`: exchanges the web token for a session cookie (`WebAuth.Sessions`, 12 hours);
///   `POST /logout` ends the session.
/// - any file below `output.http`: rendered boot files, installer answers, kernels; never one
///   whose real path is outside it (`ServedFolder`).
///
/// Every request is logged at debug level (`AccessLogMiddleware`). What a request reads or
/// changes goes through `ControllerInterface`, one call each; the server keeps no state but
/// what its HTTP checks hold in memory (`WebAuth`'s back-off and sessions, `Webhook`'s recent
/// deliveries).
///
/// Behind `WebAuth` (token or htpasswd user): the web page (`/`, `/machines/{id}`,
/// `/groups`, `/plan`, `/tasks`, `/source`), `GET /v1/machines[/{id}[/events]]`,
/// `GET /v1/tasks[/{name}]`, `GET /v1/jobs[?active=true&machine=NAME&limit=N]`, `GET /v1/status`, `GET /v1/sites`,
/// and `GET /metrics`.
public struct BootHTTPServer: Sendable {
    /// Everything the server reads or changes goes through this one interface.
    public let controller: any ControllerInterface
    public let auth: WebAuth
    /// Nil when no webhook secret is configured: the hook answers 404.
    public let webhook: Webhook?
    let pages: WebPages

    /// `output.http`: the files dploy renders (iPXE scripts, installer answers) and what the
    /// operator puts beside them (kernels, initrds), served to machines as they are.
    public let httpFolder: String?
    /// Timeouts and the connection cap (`server:` in dploy.yaml).
    public let limits: Limits

    /// What a client may hold of the server: the boot network is not trusted to close
    /// what it opens or to finish what it starts.
    public struct Limits: Sendable {
        /// A connection with no request under way for this long is closed: from when it opens
        /// (so a request head that has not fully arrived by then, slowloris or a half-open
        /// socket, is closed too: the header timeout) and from its last answer.
        public var idleTimeout: Duration
        /// A request body not received in full this long after its head is answered 408.
        public var bodyTimeout: Duration
        /// At most this many connections at once; further ones wait in the kernel's backlog.
        public var maxConnections: Int

        public init(idleTimeout: Duration = .seconds(30), bodyTimeout: Duration = .seconds(60), maxConnections: Int = 512) {
            self.idleTimeout = idleTimeout
            self.bodyTimeout = bodyTimeout
            self.maxConnections = maxConnections
        }
    }

    /// Hardware reports being received at once, in bytes (`UploadBudget`).
    let reports: UploadBudget

    public init(controller: any ControllerInterface, auth: WebAuth, webhook: Webhook? = nil,
                extraLinks: [String: String] = [:], httpFolder: String? = nil, limits: Limits = Limits(),
                reportBudget: Int = 32 << 20) {
        reports = UploadBudget(limit: reportBudget)
        self.controller = controller
        self.auth = auth
        self.webhook = webhook
        self.httpFolder = httpFolder
        self.limits = limits
        pages = WebPages(extraLinks: extraLinks)
    }

    /// A request's body, at most `maximum` bytes and within `limits.bodyTimeout`: a client that
    /// trickles its body is answered 408 rather than holding a request open.
    func body(of request: Request, upTo maximum: Int) async throws -> ByteBuffer {
        let timeout = limits.bodyTimeout
        return try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await request.body.collect(upTo: maximum) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let body = first else {
                throw HTTPError(.requestTimeout, message: "the request body did not arrive within \(timeout)")
            }
            return body
        }
    }

    /// Runs a controller call, answering its refusal with the HTTP status it names.
    @discardableResult
    static func answering<T>(_ call: () throws -> T) throws -> T {
        do {
            return try call()
        } catch let refusal as ControllerRefusal {
            let status: HTTPResponse.Status = switch refusal.kind {
            case .forbidden: .forbidden
            case .notFound: .notFound
            case .conflict: .conflict
            case .gone: .gone
            case .unavailable: .serviceUnavailable
            }
            throw HTTPError(status, message: refusal.message)
        }
    }

    public func router() -> Router<DployRequestContext> {
        let router = Router(context: DployRequestContext.self)
        router.add(middleware: AccessLogMiddleware())
        if let httpFolder {
            // Boot files are for the boot network, like /boot.ipxe: no credentials. A path
            // with ".." is refused by the middleware; a missing file, or one whose real path
            // is outside the folder (`ServedFolder`), falls through to the routes (404).
            router.add(middleware: HiddenFilesMiddleware())
            router.add(middleware: FileMiddleware(fileProvider: ServedFolder(httpFolder), searchForIndexHtml: false))
        }
        addBootRoutes(router)
        addImagingRoutes(router)
        addDaemonRoutes(router)
        let protected = router.group().add(middleware: WebAuthMiddleware(auth: auth))
            .add(middleware: ReturnFreedMemoryMiddleware())
            .add(middleware: StoreFailureMiddleware())
        addAPIRoutes(protected)
        addPageRoutes(protected)
        return router
    }

    private func addBootRoutes(_ router: Router<DployRequestContext>) {
        router.get("boot.ipxe") { request, context -> Response in
            guard let mac = request.uri.queryParameters["mac"].map(String.init) else {
                return Self.text("#!ipxe\nchain --autofree \(controller.serverURL)/boot.ipxe?mac=${net0/mac}\n")
            }
            return Self.text(controller.bootAnswer(mac: mac, loader: .ipxe, address: context.clientAddress, recording: true))
        }
        // Each loader's own config, decided when it is asked for (the files of the same
        // names in the output folders are the planner's snapshot, for sites that serve them
        // elsewhere): iPXE chained from pxelinux, lpxelinux with an http:// path prefix,
        // GRUB loading its config over HTTP.
        router.get("ipxe/:name") { _, context -> Response in
            try self.bootConfig(.ipxe, named: context.parameters.get("name"), address: context.clientAddress)
        }
        router.get("pxelinux.cfg/:name") { _, context -> Response in
            try self.bootConfig(.pxelinux, named: context.parameters.get("name"), address: context.clientAddress)
        }
        router.get("grub/:name") { _, context -> Response in
            try self.bootConfig(.grub, named: context.parameters.get("name"), address: context.clientAddress)
        }
        // The loaders themselves, from where Debian's packages put them: UEFI HTTP boot
        // downloads one, lpxelinux fetches ldlinux.c32 beside its config.
        let fileIO = FileIO()
        for (name, loader) in LoaderFiles.known {
            let answer: @Sendable (Request, DployRequestContext) async throws -> Response = { _, context in
                guard let path = LoaderFiles.debianFile(for: name, exists: { FileManager.default.isReadableFile(atPath: $0) }) else {
                    throw HTTPError(.notFound, message: "\(name) is not installed on the boot server (Debian package \(loader.package))")
                }
                return Response(status: .ok, headers: [.contentType: "application/octet-stream"],
                                body: try await fileIO.loadFile(path: path, context: context))
            }
            router.get(RouterPath(LoaderFiles.urlPath(name)), use: answer)
            router.head(RouterPath(LoaderFiles.urlPath(name)), use: answer)
        }
        router.get("agent.sh") { _, _ -> Response in
            Self.text(AgentScript.text(server: controller.serverURL), contentType: "text/x-shellscript")
        }
        router.post("v1/inventory") { request, context -> Response in
            guard let mac = request.uri.queryParameters["mac"].flatMap({ MACAddress(String($0)) }) else {
                throw HTTPError(.badRequest, message: "inventory needs ?mac= with the machine's MAC address")
            }
            guard request.headers[.contentType]?.hasPrefix("application/json") == true else {
                throw HTTPError(.unsupportedMediaType, message: "send the lshw -json report as application/json")
            }
            // The most this body can hold in memory, taken from the budget before it is read.
            let size = min(request.headers[.contentLength].flatMap { Int($0) } ?? LshwReport.maximumBytes, LshwReport.maximumBytes + 1)
            guard self.reports.reserve(size) else {
                throw HTTPError(.serviceUnavailable, headers: [.retryAfter: "5"],
                                message: "too many hardware reports are arriving at once; retry in a few seconds")
            }
            defer { self.reports.release(size) }
            let body: ByteBuffer
            do {
                body = try await self.body(of: request, upTo: LshwReport.maximumBytes)
            } catch let error as HTTPError where error.status == .requestTimeout {
                throw error
            } catch {
                throw HTTPError(.contentTooLarge, message: "the report is larger than \(LshwReport.maximumBytes) bytes")
            }
            let hardware: Hardware
            do {
                hardware = try LshwReport.parse(Array(buffer: body))
            } catch {
                throw HTTPError(.badRequest, message: String(describing: error))
            }
            try Self.answering { try controller.recordHardware(hardware, of: mac, address: context.clientAddress) }
            return Response(status: .noContent)
        }
        router.post("v1/machines/:id/installed") { request, context -> Response in
            guard let mac = context.parameters.get("id").flatMap(MACAddress.init),
                  let generation = request.uri.queryParameters["generation"].flatMap({ Int(String($0)) }),
                  let token = request.uri.queryParameters["token"].map(String.init) else {
                throw HTTPError(.badRequest, message: "a callback needs /v1/machines/MAC/installed?generation=N&token=T")
            }
            try Self.answering { try controller.recordInstalled(mac: mac, generation: generation, token: token) }
            return Response(status: .noContent)
        }
    }

    private func addDaemonRoutes(_ router: Router<DployRequestContext>) {
        router.post("v1/hooks/git") { request, _ -> Response in
            guard let webhook else {
                throw HTTPError(.notFound, message: "no webhook secret is configured (webhook.secretFile in dploy.yaml)")
            }
            let body = try await self.body(of: request, upTo: 1 << 20)
            switch webhook.receive(body: Array(buffer: body), headers: request.headers) {
            case .unauthorized:
                try Self.answering { try controller.webhookDelivered(.unauthorized) }
                throw HTTPError(.unauthorized, message: "the delivery is not signed with the webhook secret")
            case .ignored(let reason):  // another branch, or a duplicate delivery: nothing runs
                try Self.answering { try controller.webhookDelivered(.ignored) }
                return try Self.json(["queued": "false", "reason": reason], status: .accepted)
            case .run:
                try Self.answering { try controller.webhookDelivered(.accepted) }
                return try Self.json(["queued": "true"], status: .accepted)
            }
        }
        router.post("login") { request, _ -> Response in
            let body = try await self.body(of: request, upTo: 4096)
            let token = Self.formValue("token", in: String(buffer: body)) ?? ""
            guard auth.isTokenValid(token) else {
                return Response(status: .unauthorized, headers: [.contentType: "text/html; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: WebPages.signIn)))
            }
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(sessionCookie(auth.sessions.start(now: auth.clock.now()), maxAge: Int(WebAuth.Sessions.lifetime)))
            return response
        }
        // Ends the session server-side, then clears the cookie. No credentials needed: it can
        // only end the session whose id it is sent, and the cookie is SameSite=Strict, so
        // another site cannot make a browser sign out.
        router.post("logout") { request, _ -> Response in
            if let cookie = request.cookies[WebAuth.cookieName] { auth.sessions.end(cookie.value) }
            var response = Response(status: .seeOther, headers: [.location: "/"])
            response.setCookie(sessionCookie("", maxAge: 0))
            return response
        }
    }

    /// The session cookie: HttpOnly, SameSite=Strict, and Secure when operators reach dploy
    /// over TLS. dploy itself speaks plain HTTP, so that is read from `server.url`: an
    /// `https://` URL means a TLS proxy in front, and the browser must never send the
    /// cookie over plain HTTP.
    func sessionCookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: WebAuth.cookieName, value: value, maxAge: maxAge, path: "/",
               secure: controller.serverURL.lowercased().hasPrefix("https://"), httpOnly: true, sameSite: .strict)
    }

    private func addAPIRoutes(_ router: RouterGroup<DployRequestContext>) {
        router.get("v1/machines") { _, _ -> Response in
            try Self.json(try controller.machines())
        }
        router.get("v1/machines/:id") { _, context -> Response in
            try Self.json(try overview(context.parameters.get("id") ?? ""))
        }
        router.get("v1/machines/:id/events") { request, context -> Response in
            let row = try overview(context.parameters.get("id") ?? "")
            let limit = request.uri.queryParameters["limit"].flatMap { Int(String($0)) }.map { min(max($0, 1), 10_000) } ?? 100
            guard let mac = MACAddress(row.mac) else { throw HTTPError(.notFound, message: "no machine with MAC '\(row.mac)'") }
            let events = try controller.events(of: mac, limit: limit).map {
                EventJSON(at: $0.at, kind: $0.kind, message: $0.message)
            }
            return try Self.json(events)
        }
        router.get("v1/tasks") { _, _ -> Response in
            try Self.json(try controller.tasks(named: nil))
        }
        router.get("v1/tasks/:name") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            guard let row = try controller.tasks(named: name).first(where: { $0.task == name }) else {
                throw HTTPError(.notFound, message: "no task '\(name)' in git or in the store")
            }
            return try Self.json(row)
        }
        router.get("v1/jobs") { request, _ -> Response in
            let query = request.uri.queryParameters
            let limit = query["limit"].flatMap { Int(String($0)) }.map { min(max($0, 1), 10_000) } ?? 500
            return try Self.json(try controller.bmcJobs(machine: query["machine"].map(String.init),
                                                        active: query["active"].map { $0 == "true" || $0 == "1" } ?? false, limit: limit))
        }
        router.get("v1/sites") { _, _ -> Response in try Self.json(try controller.sites()) }
        router.get("v1/status") { _, _ -> Response in
            guard let status = controller.status else { throw HTTPError(.notFound, message: "this server runs no reconcile loop") }
            return try Self.json(status)
        }
        router.get("metrics") { _, _ -> Response in
            guard let text = controller.metricsExposition() else {
                throw HTTPError(.notFound, message: "this server runs no reconcile loop")
            }
            return Self.text(text, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    private func addPageRoutes(_ router: RouterGroup<DployRequestContext>) {
        router.get("/") { request, _ -> Response in
            let query = request.uri.queryParameters["q"].map(String.init) ?? ""
            let page = request.uri.queryParameters["page"].flatMap { Int(String($0)) } ?? 1
            return Self.html(pages.servers(inputs, machines: try controller.machines(), query: query, page: page))
        }
        router.get("machines/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let detail = try controller.machineDetail(id) else {
                return Self.html(pages.notFound("No machine is named '\(id)' or has that MAC address.", inputs), status: .notFound)
            }
            return Self.html(pages.machine(detail, inputs))
        }
        router.get("groups") { _, _ -> Response in Self.html(pages.groups(inputs)) }
        router.get("plan") { _, _ -> Response in Self.html(pages.plan(inputs)) }
        router.get("source") { _, _ -> Response in
            // The sites are the store's: a page without them still shows this controller's own.
            let sites = Result { try controller.sites() }
            return Self.html(pages.source(inputs, sites: sites))
        }
        router.get("tasks") { _, _ -> Response in Self.html(pages.tasks(inputs, rows: try controller.tasks(named: nil))) }
    }

    private var inputs: WebPages.Inputs { WebPages.Inputs(desired: controller.desired, status: controller.status) }

    private func overview(_ id: String) throws -> MachineOverview {
        guard let row = try controller.machine(id) else {
            throw HTTPError(.notFound, message: "no machine named or with MAC '\(id)'")
        }
        return row
    }

    /// A field of an `application/x-www-form-urlencoded` body: `+` is a space, and is
    /// turned into one before percent-decoding, so an encoded `%2B` stays a plus.
    static func formValue(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }

    struct EventJSON: Encodable {
        var at: Date
        var kind: String
        var message: String
    }

    /// A loader's config named `name`, decided now; 404 for a name that names no MAC.
    private func bootConfig(_ loader: BootLoader, named name: String?, address: String?) throws -> Response {
        guard let name, let mac = BootPaths.configMAC(name, loader: loader) else {
            throw HTTPError(.notFound, message: "no \(loader) config of that name")
        }
        return Self.text(controller.bootAnswer(mac: mac, loader: loader, address: address, recording: true))
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder.dploy.encode(value))))
    }
}

extension BootHTTPServer {
    /// The HTTP service, for a service group that also runs the reconcile loop.
    /// - Parameter listen: `HOST:PORT`, e.g. `127.0.0.1:8080` or `198.18.0.1:80`.
    public func application(listen: String) throws -> some ApplicationProtocol {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw HTTPError(.badRequest, message: "listen must be HOST:PORT, found '\(listen)'")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let seconds = limits.idleTimeout.components
        return Application(router: router(),
                           server: .http1(configuration: .init(idleTimeout: .nanoseconds(seconds.seconds * 1_000_000_000
                                                                                          + seconds.attoseconds / 1_000_000_000))),
                           configuration: .init(address: .hostname(host, port: port), serverName: "dploy",
                                                availableConnectionsDelegate: .maximum(limits.maxConnections, logger: Logger(label: "dploy.http"))))
    }
}

/// Hidden names below `output.http` (staged temporaries, an operator's dot-files) are not
/// served: a request for one is answered as if it did not exist.
struct HiddenFilesMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path.removingPercentEncoding ?? request.uri.path
        if path.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            throw HTTPError(.notFound)
        }
        return try await next(request, context)
    }
}

/// A page or API answer that the store could not give (a row it cannot read, a database
/// that is away) says why, rather than an empty 500: the operator sees which row or which
/// server to look at. Store errors name tables, keys and redacted URLs, never a secret.
struct StoreFailureMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError {
            throw error
        } catch {
            // Only signed-in operators get here, and they may read the rows an error quotes
            // anyway; the store's errors carry no password (URLs are shown redacted).
            context.logger.error("\(request.uri.path): \(error)")
            throw HTTPError(.internalServerError, message: "cannot answer from the store: \(error)")
        }
    }
}

/// Pages and API answers read the whole fleet: for 10,000 machines, megabytes of rows and
/// text freed once the answer is sent. They are given back to the system shortly after,
/// as a reconcile run's are; boot traffic, small and frequent, does not ask for it.
struct ReturnFreedMemoryMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        defer { Allocator.returnFreedMemorySoon() }
        return try await next(request, context)
    }
}
