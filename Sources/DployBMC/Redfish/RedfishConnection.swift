import Foundation

/// The synchronous heart of the client: one curl handle, the session, retries, errors.
/// Not Sendable; `RedfishClient` runs it on a serial queue of its own, so blocking calls
/// (curl, backoff sleeps) never hold a thread of Swift's cooperative pool.
final class RedfishConnection {
    enum Auth {
        case unknown
        case session(token: String, uri: String?)
        case basic
    }

    /// An answer with its JSON (when there was a body) and ETag (header or `@odata.etag`).
    struct Response {
        var status: Int
        var headers: [String: String]
        var json: JSONValue?

        var etag: String? { headers["etag"] ?? json?["@odata.etag"]?.string }
        var location: String? { headers["location"] }
    }

    let endpoint: BMCEndpoint
    let options: RedfishOptions
    let redact: Redactor
    private let curl = CurlHandle()
    private(set) var auth = Auth.unknown
    private var cachedRoot: JSONValue?
    /// Replaced in tests that count tries without waiting.
    var sleep: (Duration) -> Void = { duration in
        let (seconds, attoseconds) = duration.components
        Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
    }

    init(endpoint: BMCEndpoint, options: RedfishOptions) {
        self.endpoint = endpoint
        self.options = options
        redact = Redactor(secrets: [endpoint.password])
    }

    func error(_ kind: BMCError.Kind, _ message: String, status: Int? = nil) -> BMCError {
        BMCError(kind, address: endpoint.address, redact(message), status: status)
    }

    // MARK: Reading and writing resources

    /// The service root, read once per connection. Redfish serves it without authentication.
    func root() throws -> JSONValue {
        if let cachedRoot { return cachedRoot }
        var response = try exchange(.get, RedfishPath.root, body: nil, headers: [], basicAuth: false)
        if response.status == 401 {
            // Some BMCs want credentials even here.
            response = try exchange(.get, RedfishPath.root, body: nil, headers: [], basicAuth: true)
            if response.status != 401, case .unknown = auth { auth = .basic }
        }
        let checked = try check(response, doing: "read the service root")
        guard let json = checked.json, json["@odata.id"] != nil || json["RedfishVersion"] != nil else {
            throw error(.badResponse, "\(RedfishPath.root) is not a Redfish service root; is this the BMC's address?")
        }
        cachedRoot = json
        return json
    }

    func get(_ path: String) throws -> Response {
        let response = try check(try authorized(.get, path, body: nil, ifMatch: nil), doing: "read \(path)")
        guard response.json != nil else { throw error(.badResponse, "\(path) answered without a JSON body") }
        return response
    }

    /// A GET that may find nothing: `nil` for 404 (a task that finished and vanished).
    func getIfPresent(_ path: String) throws -> Response? {
        let response = try authorized(.get, path, body: nil, ifMatch: nil)
        if response.status == 404 || response.status == 410 { return nil }
        return try check(response, doing: "read \(path)")
    }

    func send(_ method: HTTPRequest.Method, _ path: String, body: JSONValue?, ifMatch: String? = nil, doing: String) throws -> Response {
        try check(try authorized(method, path, body: body, ifMatch: ifMatch, changing: doing), doing: doing)
    }

    /// Logs out of the session, if there is one. Best effort: a BMC that is gone has
    /// forgotten the session anyway, and iLO's sessions time out on their own.
    func close() {
        if case .session(_, let uri?) = auth {
            _ = try? authorized(.delete, uri, body: nil, ifMatch: nil, relogin: false)
        }
        auth = .unknown
    }

    // MARK: Authentication

    /// - Parameter changing: what a request that changes the BMC does, for `options.mayChange`
    ///   to refuse by name; nil for reads and the session's own requests.
    private func authorized(_ method: HTTPRequest.Method, _ path: String, body: JSONValue?, ifMatch: String?,
                            relogin: Bool = true, changing: String? = nil) throws -> Response {
        try authenticate()
        var response = try exchange(method, path, body: body, headers: ifMatch.map { ["If-Match: \($0)"] } ?? [],
                                    basicAuth: { if case .basic = auth { true } else { false } }(), changing: changing)
        if response.status == 401, relogin, case .session = auth {
            // The session expired (iLO drops idle sessions after 30 minutes): log in again, once.
            auth = .unknown
            try authenticate()
            response = try exchange(method, path, body: body, headers: ifMatch.map { ["If-Match: \($0)"] } ?? [],
                                    basicAuth: { if case .basic = auth { true } else { false } }(), changing: changing)
        }
        if response.status == 401 {
            throw error(.unauthorized, "the BMC refused user '\(endpoint.username)' (HTTP 401); check the password in the machine's credentials secret", status: 401)
        }
        return response
    }

    private func authenticate() throws {
        guard case .unknown = auth else { return }
        guard options.useSessions else { auth = .basic; return }
        let root = try root()
        if case .basic = auth { return }  // the root itself wanted basic auth
        let sessionService = root["SessionService"]?.link.map { $0.hasSuffix("/") ? $0 + "Sessions" : $0 + "/Sessions" }
        guard let sessions = root[path: "Links", "Sessions"]?.link ?? sessionService else {
            auth = .basic
            return
        }
        let credentials = JSONValue.object(["UserName": .string(endpoint.username), "Password": .string(endpoint.password)])
        let response = try exchange(.post, sessions, body: credentials, headers: [], basicAuth: false)
        switch response.status {
        case 200...299:
            guard let token = response.headers["x-auth-token"], !token.isEmpty else {
                throw error(.badResponse, "the BMC accepted the login at \(sessions) but sent no X-Auth-Token")
            }
            auth = .session(token: token, uri: response.location.map(pathOf) ?? response.json?["@odata.id"]?.string)
        case 404, 405, 501:
            // No sessions here (sushy-tools answers 404): basic auth on every request.
            auth = .basic
        case 400, 401, 403:
            throw error(.unauthorized, "the BMC refused the login of user '\(endpoint.username)' (HTTP \(response.status)\(summary(response).map { ": \($0)" } ?? "")); check the password in the machine's credentials secret", status: response.status)
        default:
            _ = try check(response, doing: "log in at \(sessions)")
            auth = .basic
        }
    }

    /// `Location` may be absolute (`https://bmc/redfish/v1/SessionService/Sessions/x`).
    func pathOf(_ location: String) -> String {
        if location.hasPrefix("/") { return location }
        if let components = URLComponents(string: location), !components.path.isEmpty { return components.path }
        return location
    }

    // MARK: One request, with retries

    private func exchange(_ method: HTTPRequest.Method, _ path: String, body: JSONValue?, headers: [String],
                          basicAuth: Bool, changing: String? = nil) throws -> Response {
        var request = HTTPRequest(method: method, url: endpoint.baseURL + (path.hasPrefix("/") ? path : "/" + path),
                                  headers: headers, body: body?.serialized())
        if case .session(let token, _) = auth { request.headers.append("X-Auth-Token: \(token)") }
        if basicAuth { request.basicAuth = (endpoint.username, endpoint.password) }
        var attempt = 0
        while true {
            attempt += 1
            // Asked before every try, not once per step: a process that was frozen between
            // two tries may have been replaced meanwhile.
            if let changing, let mayChange = options.mayChange, !mayChange() {
                throw self.error(.notLeading, "not sent (\(changing)): this dploy no longer leads its store; the new leader does it")
            }
            let answer: HTTPResponse
            do {
                answer = try curl.perform(request, tls: endpoint.tls, connectTimeout: options.connectTimeout, timeout: options.timeout)
            } catch {
                if error.isTLS {
                    let hint = endpoint.tls.certificateFingerprint != nil
                        ? "If the BMC's certificate was replaced on purpose, pin the new one's fingerprint in 'bmc.fingerprint'"
                        : "Give the CA that signed it in 'bmc.caFile', or pin it with 'bmc.fingerprint'; 'bmc.insecure: true' turns checking off"
                    throw self.error(.tls, "refused the BMC's certificate: \(error.message). \(hint)")
                }
                // A request the BMC may have seen is sent again only if sending it twice is harmless.
                let retryable = method.isIdempotent ? (error.transient || error.nothingSent) : error.nothingSent
                if retryable, attempt < options.attempts {
                    sleep(backoff(attempt))
                    continue
                }
                throw self.error(.unreachable, "cannot reach the BMC (\(method.rawValue) \(path), \(attempt) \(attempt == 1 ? "try" : "tries")): \(error.message)")
            }
            // 503 and 429 mean "not now, nothing done": safe to repeat for any method.
            let busy = answer.status == 503 || answer.status == 429
            if (busy || (answer.status >= 500 && method.isIdempotent)), attempt < options.attempts {
                let wait = retryAfter(answer).map { min($0, options.maxRetryAfter) } ?? backoff(attempt)
                sleep(wait)
                continue
            }
            let json = answer.body.isEmpty ? nil : try? JSONValue(parsing: answer.body)
            return Response(status: answer.status, headers: answer.headers, json: json)
        }
    }

    private func backoff(_ attempt: Int) -> Duration {
        let doubled = options.backoff * (1 << min(attempt - 1, 20))
        let capped = min(doubled, options.maxBackoff)
        // A little jitter, so a fleet of clients does not retry in step.
        return capped + capped * Double.random(in: 0..<0.25)
    }

    /// `Retry-After` in seconds or as an HTTP date.
    private func retryAfter(_ response: HTTPResponse) -> Duration? {
        guard let value = response.header("retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Int(value) { return .seconds(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return .milliseconds(max(0, Int(date.timeIntervalSinceNow * 1000)))
    }

    // MARK: Status checks

    private func check(_ response: Response, doing: String) throws -> Response {
        switch response.status {
        case 200...299:
            return response
        case 401:
            throw error(.unauthorized, "could not \(doing): the BMC refused user '\(endpoint.username)' (HTTP 401)", status: 401)
        case 404, 405, 501:
            throw error(.unsupported, "could not \(doing): the BMC does not offer it (HTTP \(response.status)\(summary(response).map { ": \($0)" } ?? ""))", status: response.status)
        default:
            throw error(.http, "could not \(doing): HTTP \(response.status)\(summary(response).map { ": \($0)" } ?? "")", status: response.status)
        }
    }

    /// What a Redfish error body says: `MessageId: Message` of each extended info, or the
    /// plain message.
    func summary(_ response: Response) -> String? {
        guard let error = response.json?["error"] else { return nil }
        let details = (error["@Message.ExtendedInfo"]?.array ?? []).compactMap { info -> String? in
            let id = info["MessageId"]?.string
            let message = info["Message"]?.string
            switch (id, message) {
            case (let id?, let message?): return "\(id): \(message)"
            case (let id?, nil): return id
            case (nil, let message?): return message
            default: return nil
            }
        }
        let text = details.isEmpty ? error["message"]?.string : details.joined(separator: "; ")
        return text.map { redact($0) }
    }
}
