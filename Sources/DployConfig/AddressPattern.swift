import Foundation

/// Where a secret's password may be sent (`allowedAddresses` in `SECRETS/NAME.yaml`):
/// `https://HOST[:PORT]` for a BMC, `ssh://HOST[:PORT]` for an SSH task's password login.
///
/// `*` in HOST stands for any run of characters other than `.`, `:` and `/`, so
/// `https://198.18.0.1*` allows 198.18.0.1 and 198.18.0.10–199 but never
/// `198.18.0.1.attacker.net`. Without a port, only the scheme's own (443, 22) is allowed;
/// `:*` allows any. A path is not allowed: the host is what is trusted, and a BMC address
/// naming one system (`https://bmc/redfish/v1/Systems/7`) matches its host.
public struct AddressPattern: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    /// nil: the scheme's default port; -1: any port.
    public let port: Int?
    public let description: String

    static let schemes = ["https": 443, "ssh": 22]

    public init?(_ text: String) {
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard Self.schemes[scheme] != nil else { return nil }
        var rest = String(text[separator.upperBound...])
        if rest.hasSuffix("/") { rest.removeLast() }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else { return nil }
        var host = rest
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                let text = after.dropFirst()
                if text == "*" { port = -1 } else { guard let number = Int(text), (1...65535).contains(number) else { return nil }; port = number }
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            // An IPv6 address without brackets cannot be told from a port: `fd00::1` would
            // read as host `fd00:`, port 1, and match nothing. It must be written [fd00::1].
            guard !host.contains(":") else { return nil }
            let text = rest[rest.index(after: colon)...]
            if text == "*" { port = -1 } else { guard let number = Int(text), (1...65535).contains(number) else { return nil }; port = number }
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        description = text
    }

    /// Whether a password may go to `host` on `port` over `scheme`.
    public func matches(scheme: String, host: String, port: Int?) -> Bool {
        let scheme = scheme.lowercased()
        guard scheme == self.scheme, let defaultPort = Self.schemes[scheme] else { return false }
        let actualPort = port ?? defaultPort
        if let wanted = self.port {
            if wanted != -1 && actualPort != wanted { return false }
        } else if actualPort != defaultPort {
            return false
        }
        var bare = host.lowercased()
        if bare.hasPrefix("["), bare.hasSuffix("]") { bare = String(bare.dropFirst().dropLast()) }
        return Self.glob(Array(self.host.unicodeScalars), Array(bare.unicodeScalars))
    }

    /// Whether a password may go to the URL `address` (`https://host[:port]/…`).
    public func matches(url address: String) -> Bool {
        guard let components = URLComponents(string: address), let scheme = components.scheme, let host = components.host,
              components.user == nil, components.password == nil else { return false }
        return matches(scheme: scheme, host: host, port: components.port)
    }

    /// `*` matches any run of characters but `.`, `:` and `/`.
    private static func glob(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
        // Memoised over (pattern index, text index): patterns and hosts are short.
        var memo: [Int: Bool] = [:]
        func match(_ p: Int, _ t: Int) -> Bool {
            let key = p * (text.count + 1) + t
            if let known = memo[key] { return known }
            let result: Bool
            if p == pattern.count {
                result = t == text.count
            } else if pattern[p] == "*" {
                result = match(p + 1, t) || (t < text.count && !".:/".unicodeScalars.contains(text[t]) && match(p, t + 1))
            } else {
                result = t < text.count && pattern[p] == text[t] && match(p + 1, t + 1)
            }
            memo[key] = result
            return result
        }
        return match(0, 0)
    }
}
