import Crypto
import DploySpec
import Foundation
import HTTPTypes
import Synchronization

/// The git webhook, `POST /v1/hooks/git`: a push anywhere asks the loop to run now.
///
/// A delivery counts only when its body is signed with the shared secret (HMAC-SHA256),
/// in any of the headers forges send: GitHub's `X-Hub-Signature-256: sha256=HEX`,
/// Gitea's and Forgejo's `X-Gitea-Signature: HEX` / `X-Forgejo-Signature: HEX`, or the
/// generic `X-Dploy-Signature: sha256=HEX` (for `curl` or a CI job).
///
/// A signed delivery counts once (`receive`): for `RecentDeliveries.window` (10 minutes)
/// a delivery with an id already seen, or with a body already seen, is a duplicate and runs
/// nothing. The id (`X-GitHub-Delivery`, `X-Gitea-Delivery`, `X-Forgejo-Delivery`,
/// `X-Dploy-Delivery`) catches a forge's redelivery; the body's SHA-256 catches a replay,
/// since the id is not covered by the signature and whoever replays can change it.
///
/// What remains possible, and why it is harmless: a captured body replayed after the window
/// counts again, and asks for one more run. A run fetches the branch the source follows and
/// takes whatever commit is at its tip, through the same checks as any run (history,
/// signature, validation); nothing of the payload but `ref` is read (`pushedRef`), and
/// `ReconcileLoop.trigger()` carries no payload at all, so a replay can never make dploy
/// apply an older or another commit. Runs coalesce (a trigger during a run queues one more
/// run, not many), so the cost is at most one extra fetch per captured body per window.
/// A script that triggers runs must make each body unique (a commit id, a time, a nonce):
/// the same body twice within the window is refused as a replay.
public struct Webhook: Sendable {
    /// The secret's bytes; a `SymmetricKey` is made per delivery (it is not Sendable).
    let secret: [UInt8]
    /// The branch the source follows (`main`, `refs/heads/main`), or nil for the default
    /// branch: a push to another branch is acknowledged and ignored.
    let followedRef: String?
    /// Signed deliveries of the last `RecentDeliveries.window`, to refuse a second one.
    let recent = RecentDeliveries()
    /// The time the window is measured by: the controller's clock.
    let clock: WallClock

    public init(secret: String, followedRef: String?, clock: WallClock = .system) {
        self.secret = Array(secret.utf8)
        self.followedRef = followedRef
        self.clock = clock
    }

    /// The headers forges name a delivery by; none is covered by the signature.
    static let deliveryHeaders = ["X-GitHub-Delivery", "X-Gitea-Delivery", "X-Forgejo-Delivery", "X-Dploy-Delivery"]

    static let signatureHeaders: [(name: String, prefix: String)] = [
        ("X-Hub-Signature-256", "sha256="), ("X-Gitea-Signature", ""), ("X-Forgejo-Signature", ""),
        ("X-Dploy-Signature", "sha256="),
    ]

    public enum Verdict: Equatable, Sendable {
        case run
        case ignored(String)
        case unauthorized
    }

    /// A delivery as it arrives: `verdict`, and a signed delivery that would run is a
    /// duplicate (`.ignored`) when its signed body was seen within the window. The delivery
    /// id headers are not covered by the signature, so they decide nothing: an id that came
    /// with another body would let anyone holding an old signed body pre-empt a real push
    /// under a predictable id. They only name the duplicate in the answer. Only signed
    /// deliveries are remembered.
    public func receive(body: [UInt8], headers: HTTPFields) -> Verdict {
        let verdict = verdict(body: body, headers: headers)
        guard verdict == .run else { return verdict }
        let ids = Self.deliveryHeaders.compactMap { name -> String? in
            guard let field = HTTPField.Name(name), let value = headers[field], !value.isEmpty else { return nil }
            return "\(name.lowercased()): \(value)"
        }
        if let duplicate = recent.admit(ids: ids, body: body, now: clock.now()) {
            return .ignored("duplicate delivery: \(duplicate) was received less than \(Int(RecentDeliveries.window / 60)) minutes ago")
        }
        return .run
    }

    /// The signature and the branch alone, remembering nothing.
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

/// The signed deliveries of the last `window`, by the SHA-256 of their body.
/// Bounded: entries older than the window go at each delivery, and past `capacity` the
/// oldest go first. Only signed deliveries come here, so only the secret's holders fill it.
final class RecentDeliveries: Sendable {
    static let window: TimeInterval = 600
    static let capacity = 4_096

    /// A body's digest → when it was first received.
    private let seen = Mutex<[String: Date]>([:])

    /// Nil, after recording the delivery, when its body was not seen within the window;
    /// otherwise what was seen before, named by its ids when it has any, and nothing is
    /// recorded (a replay does not extend the window).
    func admit(ids: [String], body: [UInt8], now: Date) -> String? {
        let bodyKey = Hex.encode(SHA256.hash(data: body))
        return seen.withLock { seen in
            seen = seen.filter { now.timeIntervalSince($0.value) < Self.window }
            if seen[bodyKey] != nil {
                return "the same signed body" + (ids.first.map { " (\(String($0.prefix(200))))" } ?? "")
            }
            seen[bodyKey] = now
            if seen.count > Self.capacity {
                for (key, _) in seen.sorted(by: { $0.value < $1.value }).prefix(seen.count - Self.capacity) { seen[key] = nil }
            }
            return nil
        }
    }
}
