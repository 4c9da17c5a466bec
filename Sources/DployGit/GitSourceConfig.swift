/// Where desired state comes from: a repository, a revision and a folder inside it.
public struct GitSourceConfig: Sendable, Hashable {
    /// A local repository path (bare or not) or a remote URL (`file://`, `https://`).
    public var repository: String
    /// A branch, tag or commit id; nil means the remote's default branch (or a local `HEAD`).
    public var ref: String?
    /// The folder inside the repository that holds the specs; nil for the top.
    public var path: String?
    /// Accept a tracked branch whose new commit does not descend from the last one used.
    public var allowHistoryRewrite: Bool
    /// An allowed-signers file (`ssh-keygen -Y verify` format); when set, every commit must
    /// carry a valid SSH signature by one of its keys.
    public var allowedSigners: String?
    /// Largest spec blob read, in bytes.
    public var maxBlobBytes: Int

    public init(repository: String, ref: String? = nil, path: String? = nil, allowHistoryRewrite: Bool = false,
                allowedSigners: String? = nil, maxBlobBytes: Int = 1 << 20) {
        self.repository = repository
        self.ref = ref
        self.path = path.map { $0.split(separator: "/").filter { $0 != "." }.joined(separator: "/") }
            .flatMap { $0.isEmpty ? nil : $0 }
        self.allowHistoryRewrite = allowHistoryRewrite
        self.allowedSigners = allowedSigners
        self.maxBlobBytes = maxBlobBytes
    }

    /// The URL without a `user:password@` part, for messages and status: credentials in a
    /// URL must never reach a log.
    public static func redacted(_ text: String) -> String {
        // Swift's Regex, not Foundation's `.regularExpression`: that one is ICU's, and this runs every fetch.
        // Up to the last '@' before whitespace: a password may hold '@', '/', '#' or '?'
        // (unencoded, as operators write them). A URL with an '@' in its path loses its host
        // from the message too: better that than a password in a log.
        text.replacing(#/:\/\/\S*@/#, with: "://***@")
    }

    /// Whether the repository is fetched (a URL) or read in place (a local path).
    public var isRemote: Bool {
        ["file://", "https://", "http://", "ssh://", "git://"].contains { repository.hasPrefix($0) }
            || repository.contains(#/^[^\/]+@[^\/:]+:/#)
    }
}

import Foundation
