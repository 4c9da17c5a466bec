import Crypto
import DploySpec
import Foundation
import HTTPTypes

/// The git webhook, `POST /v1/hooks/git`: a push anywhere asks the loop to run now.
///
/// A delivery counts only when its body is signed with the shared secret (HMAC-SHA256),
/// in any of the headers forges send: GitHub's `X-Hub-Signature-256: sha256=HEX`,
/// Gitea's and Forgejo's `X-Gitea-Signature: HEX` / `X-Forgejo-Signature: HEX`, or the
/// generic `X-Dploy-Signature: sha256=HEX` (for `curl` or a CI job).
public struct Webhook: Sendable {
    /// The secret's bytes; a `SymmetricKey` is made per delivery (it is not Sendable).
    let secret: [UInt8]
    /// The branch the source follows (`main`, `refs/heads/main`), or nil for the default
    /// branch: a push to another branch is acknowledged and ignored.
    let followedRef: String?

    public init(secret: String, followedRef: String?) {
        self.secret = Array(secret.utf8)
        self.followedRef = followedRef
    }

    static let signatureHeaders: [(name: String, prefix: String)] = [
        ("X-Hub-Signature-256", "sha256="), ("X-Gitea-Signature", ""), ("X-Forgejo-Signature", ""),
        ("X-Dploy-Signature", "sha256="),
    ]

    public enum Verdict: Equatable, Sendable {
        case run
        case ignored(String)
        case unauthorized
    }

    public func verdict(body: [UInt8], headers: HTTPFields) -> Verdict {
        let key = SymmetricKey(data: secret)
        let signed = Self.signatureHeaders.contains { header in
            guard let name = HTTPField.Name(header.name), let value = headers[name], value.hasPrefix(header.prefix),
                  let given = Hex.decode(value.dropFirst(header.prefix.count)), !given.isEmpty else { return false }
            // swift-crypto compares in constant time.
            return HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: body, using: key)
        }
        guard signed else { return .unauthorized }
        if let pushed = Self.pushedRef(body), let followedRef, Self.branch(pushed) != Self.branch(followedRef) {
            return .ignored("push to \(pushed); this controller follows \(followedRef)")
        }
        return .run
    }

    /// `ref` of a GitHub/Gitea push payload; nil for other bodies (a generic trigger).
    static func pushedRef(_ body: [UInt8]) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return object["ref"] as? String
    }

    static func branch(_ ref: String) -> String {
        ref.hasPrefix("refs/heads/") ? String(ref.dropFirst("refs/heads/".count)) : ref
    }
}
