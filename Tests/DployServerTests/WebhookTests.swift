import Crypto
import DployServer
import Foundation
import HTTPTypes
import Testing

/// Webhook signatures as GitHub, Gitea/Forgejo and a plain `curl` send them.
@Suite("git webhook signatures")
struct WebhookTests {
    let webhook = Webhook(secret: "s3cret", followedRef: "main")
    let push = Array(#"{"ref": "refs/heads/main", "after": "0123abcd"}"#.utf8)

    func hexSignature(_ body: [UInt8], secret: String = "s3cret") -> String {
        HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
            .map { String(format: "%02x", $0) }.joined()
    }

    func headers(_ pairs: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in pairs { fields[HTTPField.Name(name)!] = value }
        return fields
    }

    @Test("GitHub, Gitea, Forgejo and generic signatures run the loop")
    func signed() {
        let hex = hexSignature(push)
        for header in [["X-Hub-Signature-256": "sha256=" + hex], ["X-Gitea-Signature": hex],
                       ["X-Forgejo-Signature": hex], ["X-Dploy-Signature": "sha256=" + hex]] {
            #expect(webhook.verdict(body: push, headers: headers(header)) == .run, "\(header.keys)")
        }
        // A generic trigger has no payload to speak of.
        #expect(webhook.verdict(body: [], headers: headers(["X-Dploy-Signature": "sha256=" + hexSignature([])])) == .run)
    }

    @Test("a missing, wrong or differently-keyed signature is unauthorized")
    func unsigned() {
        #expect(webhook.verdict(body: push, headers: [:]) == .unauthorized)
        #expect(webhook.verdict(body: push, headers: headers(["X-Hub-Signature-256": "sha256=" + hexSignature(push, secret: "other")])) == .unauthorized)
        #expect(webhook.verdict(body: push, headers: headers(["X-Hub-Signature-256": hexSignature(push)])) == .unauthorized,
                "GitHub's header needs its sha256= prefix")
        #expect(webhook.verdict(body: push, headers: headers(["X-Gitea-Signature": "zz"])) == .unauthorized)
        var tampered = push
        tampered[tampered.count - 3] = UInt8(ascii: "f")
        #expect(webhook.verdict(body: tampered, headers: headers(["X-Gitea-Signature": hexSignature(push)])) == .unauthorized)
    }

    @Test("a signed push to another branch is acknowledged and ignored")
    func otherBranch() {
        let body = Array(#"{"ref": "refs/heads/feature"}"#.utf8)
        #expect(webhook.verdict(body: body, headers: headers(["X-Gitea-Signature": hexSignature(body)]))
                == .ignored("push to refs/heads/feature; this controller follows main"))
        let anyBranch = Webhook(secret: "s3cret", followedRef: nil)
        #expect(anyBranch.verdict(body: body, headers: headers(["X-Gitea-Signature": hexSignature(body)])) == .run)
    }
}
