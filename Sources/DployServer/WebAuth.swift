import Crypto
import DploySpec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Synchronization

/// Who may read the web page, the JSON API and /metrics: anyone presenting the token
/// (`Authorization: Bearer …`, or the session cookie `POST /login` sets), or a user of
/// the htpasswd file (HTTP Basic, bcrypt entries only). Boot, agent and webhook endpoints
/// have their own proofs and do not come here.
///
/// A session is a random id the server remembers (`Sessions`), not something derived from
/// the token: it ends 12 hours after sign-in whatever the browser keeps, at `POST /logout`,
/// and when dploy restarts, which is also the only way a changed token takes effect, so
/// changing the token signs everyone out.
public struct WebAuth: Sendable {
    let token: String
    /// User name → bcrypt hash.
    let users: [String: String]

    /// Passwords recently verified, by user, as SHA-256: a browser sends Basic credentials
    /// with every request, and bcrypt is slow on purpose.
    let verified = VerifiedPasswords()
    /// Where bcrypt runs, and which clients must wait before their next guess.
    let checks = PasswordChecks()
    /// The time the back-off and sessions are measured by: the controller's clock.
    let clock: WallClock
    /// The sessions signed in with the token, in memory.
    let sessions = Sessions()

    public init(token: String, users: [String: String] = [:], clock: WallClock = .system) {
        self.token = token
        self.users = users
        self.clock = clock
    }

    /// What a request's credentials earned it.
    enum Verdict: Equatable {
        case allowed
        case denied
        /// A client that guessed wrong recently, or a moment when too many checks wait:
        /// answered 429 with `Retry-After`, and no bcrypt is spent on it.
        case retryLater(seconds: Int)
    }

    /// bcrypt off Swift's cooperative threads, which serve every request: one thread of its
    /// own checks passwords one at a time, at most `maxWaiting` wait for it, and a client
    /// whose password was wrong waits 1, 2, 4 … up to `maxBackOff` seconds before it may
    /// try again. A correct password resets its client; a password already verified (the
    /// browser's next request) costs no bcrypt and is never held back.
    final class PasswordChecks: Sendable {
        static let maxWaiting = 8
        static let maxBackOff = 30
        /// A client's failures are forgotten this long after its last one.
        static let forgetAfter: TimeInterval = 900

        private let queue = DispatchQueue(label: "dploy.password-checks")
        private let state = Mutex<State>(State())

        struct State {
            var waiting = 0
            var failures: [String: (count: Int, last: Date)] = [:]
        }

        /// Seconds `client` must still wait before a check, or nil when it may try now.
        func backOff(_ client: String, now: Date) -> Int? {
            state.withLock { state in
                guard let failure = state.failures[client] else { return nil }
                if now.timeIntervalSince(failure.last) > Self.forgetAfter {
                    state.failures[client] = nil
                    return nil
                }
                let wait = Double(min(1 << min(failure.count - 1, 16), Self.maxBackOff))
                let left = failure.last.addingTimeInterval(wait).timeIntervalSince(now)
                return left > 0 ? Int(left.rounded(.up)) : nil
            }
        }

        /// Runs `verify` on the checking thread; nil when too many checks already wait.
        /// `clock` is read when the answer is known, so a wait in the queue does not use up the back-off.
        func run(client: String, clock: WallClock, _ verify: @escaping @Sendable () -> Bool) async -> Bool? {
            let admitted = state.withLock { state in
                guard state.waiting < Self.maxWaiting else { return false }
                state.waiting += 1
                return true
            }
            guard admitted else { return nil }
            let ok = await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: verify()) }
            }
            let now = clock.now()
            state.withLock { state in
                state.waiting -= 1
                if ok {
                    state.failures[client] = nil
                } else {
                    // The back-off counts from the answer, measured by the caller's clock.
                    let count = (state.failures[client].map { now.timeIntervalSince($0.last) > Self.forgetAfter ? 0 : $0.count } ?? 0) + 1
                    state.failures[client] = (count, now)
                    // Bounded: past 10,000 addresses, the ones whose last failure is oldest go first.
                    if state.failures.count > 10_000 {
                        let oldest = state.failures.sorted { $0.value.last < $1.value.last }.prefix(1_000).map(\.key)
                        for key in oldest { state.failures[key] = nil }
                    }
                }
            }
            return ok
        }
    }

    final class VerifiedPasswords: Sendable {
        private let entries = Mutex<[String: (digest: [UInt8], until: Date)]>([:])

        /// Whether the password was verified recently; each use keeps it 5 more minutes, so
        /// an operator's browser in use is never held back by someone else's guessing.
        func contains(_ user: String, _ digest: [UInt8], now: Date) -> Bool {
            entries.withLock { entries in
                guard let entry = entries[user], entry.until > now, entry.digest == digest else { return false }
                entries[user] = (digest, now.addingTimeInterval(300))
                return true
            }
        }

        func insert(_ user: String, _ digest: [UInt8], now: Date) {
            entries.withLock { $0[user] = (digest, now.addingTimeInterval(300)) }
        }
    }

    /// Checked for users that do not exist, so an unknown name takes as long as a wrong password.
    static let noSuchUserHash = "$2b$10$do7sFJV7yKTR/3ZPempDz.GhncWKmeWfiA5j1RDdlBZyIciJuneHW"

    func verifyPassword(_ password: String, of user: String, now: Date = Date()) -> Bool {
        guard let hash = users[user] else {
            _ = Bcrypt.verify(password, hash: Self.noSuchUserHash)
            return false
        }
        let digest = Array(SHA256.hash(data: Array(password.utf8)))
        if verified.contains(user, digest, now: now) { return true }
        guard Bcrypt.verify(password, hash: hash) else { return false }
        verified.insert(user, digest, now: now)
        return true
    }

    /// Reads an htpasswd file (`htpasswd -B`). Anything but bcrypt is refused: MD5 and
    /// crypt entries are too cheap to guess.
    public static func users(htpasswd path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw WebAuthError.unreadable(path) }
        var users: [String: String] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = line.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let colon = line.firstIndex(of: ":") else { throw WebAuthError.badLine(path, index + 1, "expected user:hash") }
            let hash = String(line[line.index(after: colon)...])
            guard ["$2a$", "$2b$", "$2y$"].contains(where: hash.hasPrefix) else {
                throw WebAuthError.badLine(path, index + 1, "only bcrypt entries are accepted (htpasswd -B)")
            }
            users[String(line[..<colon])] = hash
        }
        return users
    }

    /// The sessions `POST /login` opens: a random 256-bit id each (from the system's CSPRNG,
    /// through swift-crypto), which is the cookie's value, remembered by its SHA-256 with its
    /// expiry. Looked up by digest, so how long a lookup takes says nothing usable about a
    /// valid id (no comparison of the id itself is made). In memory only: a restart signs
    /// everyone out. Bounded: past `capacity`, the session that ends soonest goes first.
    final class Sessions: Sendable {
        static let lifetime: TimeInterval = 12 * 3600
        static let capacity = 1_000

        /// SHA-256 of the id (hex) → when the session ends.
        private let open = Mutex<[String: Date]>([:])

        /// A new session's id, valid until `now + lifetime`.
        func start(now: Date) -> String {
            let id = SymmetricKey(size: .bits256).withUnsafeBytes { Hex.encode($0) }
            let key = Self.key(id)
            open.withLock { sessions in
                sessions = sessions.filter { $0.value > now }
                if sessions.count >= Self.capacity, let soonest = sessions.min(by: { $0.value < $1.value })?.key {
                    sessions[soonest] = nil
                }
                sessions[key] = now.addingTimeInterval(Self.lifetime)
            }
            return id
        }

        func isValid(_ id: String, now: Date) -> Bool {
            let key = Self.key(id)
            return open.withLock { sessions in
                guard let end = sessions[key] else { return false }
                guard end > now else {
                    sessions[key] = nil
                    return false
                }
                return true
            }
        }

        /// Ends the session (sign-out); an unknown or ended id changes nothing.
        func end(_ id: String) {
            let key = Self.key(id)
            open.withLock { _ = $0.removeValue(forKey: key) }
        }

        var count: Int { open.withLock { $0.count } }

        private static func key(_ id: String) -> String { Hex.encode(SHA256.hash(data: Array(id.utf8))) }
    }

    static let cookieName = "dploy_session"

    func isTokenValid(_ candidate: String) -> Bool { Self.constantTimeEqual(candidate, token) }

    /// Whether `request` may pass; `client` is its source address (nil: one shared key).
    func authenticates(_ request: Request, client: String?) async -> Verdict {
        if let cookie = request.cookies[Self.cookieName], sessions.isValid(cookie.value, now: clock.now()) { return .allowed }
        guard let authorization = request.headers[.authorization] else { return .denied }
        if authorization.hasPrefix("Bearer ") { return isTokenValid(String(authorization.dropFirst(7))) ? .allowed : .denied }
        guard !users.isEmpty, authorization.hasPrefix("Basic "), let data = Data(base64Encoded: String(authorization.dropFirst(6))),
              let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":") else { return .denied }
        let user = String(pair[..<colon]), password = String(pair[pair.index(after: colon)...])
        let now = clock.now()
        let digest = Array(SHA256.hash(data: Array(password.utf8)))
        if users[user] != nil, verified.contains(user, digest, now: now) { return .allowed }
        let client = client ?? "-"
        if let wait = checks.backOff(client, now: now) { return .retryLater(seconds: wait) }
        let auth = self
        guard let ok = await checks.run(client: client, clock: clock, { auth.verifyPassword(password, of: user, now: now) }) else {
            return .retryLater(seconds: 1)
        }
        return ok ? .allowed : .denied
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Refuses unauthenticated requests: 401 with a Basic challenge when users exist, and for
/// pages a small sign-in form (works without JavaScript).
struct WebAuthMiddleware: RouterMiddleware {
    typealias Context = DployRequestContext
    let auth: WebAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let verdict = await auth.authenticates(request, client: context.clientAddress)
        if verdict == .allowed { return try await next(request, context) }
        if case .retryLater(let seconds) = verdict {
            return Response(status: .tooManyRequests, headers: [.contentType: "text/plain; charset=utf-8", .retryAfter: String(seconds)],
                            body: .init(byteBuffer: ByteBuffer(string: "wrong passwords from this address, or too many password checks at once: try again in \(seconds) s\n")))
        }
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        if !auth.users.isEmpty { headers[.wwwAuthenticate] = "Basic realm=\"dploy\", charset=\"UTF-8\"" }
        return Response(status: .unauthorized, headers: headers, body: .init(byteBuffer: ByteBuffer(string: WebPages.signIn)))
    }
}

public enum WebAuthError: Error, CustomStringConvertible {
    case unreadable(String)
    case badLine(String, Int, String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the htpasswd file \(path)"
        case .badLine(let path, let line, let reason): "\(path):\(line): \(reason)"
        }
    }
}
