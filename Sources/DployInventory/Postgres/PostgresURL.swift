import CLibPQ
import Foundation

/// A postgres:// URL as libpq itself reads it (`PQconninfoParse`): the checks on what a URL
/// may say (no password, no sslmode; for plain TCP, loopback hosts only) and its redacted
/// form look at what libpq will use, not at a parse of our own that a `?` or a `%` in the
/// right place could lead astray.
public struct PostgresURL: Sendable {
    /// The keywords the URL sets, as libpq understands them (`user`, `password`, `host`, …).
    public let keywords: [String: String]

    /// Nil when libpq cannot read the URL.
    public init?(_ url: String) {
        var error: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &error) else {
            if let error { PQfreemem(error) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var keywords: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { keywords[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        self.keywords = keywords
    }

    public var hasPassword: Bool { keywords["password"] != nil }

    /// Every host the URL names: libpq tries a comma-separated list in turn.
    public var hosts: [String] {
        (keywords["host"] ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    }

    /// Whether libpq reaches the database only through a Unix socket or on loopback: every
    /// host local, and no `hostaddr` or `service`, which could name another.
    public var isLocal: Bool {
        guard keywords["hostaddr"] == nil, keywords["service"] == nil else { return false }
        return hosts.allSatisfy { host in
            host.isEmpty || host.hasPrefix("/") || ["localhost", "127.0.0.1", "::1"].contains(host.lowercased())
        }
    }

    /// The URL rebuilt from what libpq reads, without any password.
    public var redacted: String {
        let user = keywords["user"].map { $0 + "@" } ?? ""
        let host = hosts.contains { $0.hasPrefix("/") } ? "" : (keywords["host"] ?? "")
        let port = keywords["port"].map { ":" + $0 } ?? ""
        var query: [String] = []
        if host.isEmpty, let socket = keywords["host"] { query.append("host=" + socket) }
        return "postgres://\(user)\(host)\(port)/\(keywords["dbname"] ?? "")" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }
}
