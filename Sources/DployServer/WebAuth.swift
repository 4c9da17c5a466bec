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
public struct WebAuth: Sendable {
    let token: String
    /// User name → bcrypt hash.
    let users: [String: String]

    /// Passwords recently verified, by user, as SHA-256: a browser sends Basic credentials
    /// with every request, and bcrypt is slow on purpose.
    let verified = VerifiedPasswords()

    public init(token: String, users: [String: String] = [:]) {
        self.token = token
        self.users = users
    }

    final class VerifiedPasswords: Sendable {
        private let entries = Mutex<[String: (digest: [UInt8], until: Date)]>([:])

        func contains(_ user: String, _ digest: [UInt8], now: Date) -> Bool {
            entries.withLock { entries in
                guard let entry = entries[user], entry.until > now else { return false }
                return entry.digest == digest
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

    /// The value of the session cookie: derived from the token, so the cookie is not the
    /// token itself and changing the token signs everyone out.
    var sessionValue: String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("dploy web session".utf8), using: SymmetricKey(data: Array(token.utf8)))
        return Hex.encode(mac)
    }

    static let cookieName = "dploy_session"

    func isTokenValid(_ candidate: String) -> Bool { Self.constantTimeEqual(candidate, token) }

    func authenticates(_ request: Request) -> Bool {
        if let cookie = request.cookies[Self.cookieName], Self.constantTimeEqual(cookie.value, sessionValue) { return true }
        guard let authorization = request.headers[.authorization] else { return false }
        if authorization.hasPrefix("Bearer ") { return isTokenValid(String(authorization.dropFirst(7))) }
        if !users.isEmpty, authorization.hasPrefix("Basic "), let data = Data(base64Encoded: String(authorization.dropFirst(6))),
           let pair = String(data: data, encoding: .utf8), let colon = pair.firstIndex(of: ":") {
            return verifyPassword(String(pair[pair.index(after: colon)...]), of: String(pair[..<colon]))
        }
        return false
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Refuses unauthenticated requests: 401 with a Basic challenge when users exist, and for
/// pages a small sign-in form (works without JavaScript).
struct WebAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let auth: WebAuth

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if auth.authenticates(request) { return try await next(request, context) }
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
