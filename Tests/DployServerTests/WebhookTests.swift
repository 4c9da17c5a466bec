import Crypto
@testable import DployController
@testable import DployServer
import DploySpec
import DployTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Webhook signatures as GitHub, Gitea/Forgejo and a plain `curl` send them.
@Suite("git webhook signatures", .ownThread)
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

    /// Issue 19: a captured signed delivery could be sent again any number of times, and each
    /// asked for a run. Now the same signed body, under any id or none, is acknowledged within
    /// the window and runs nothing; past the window it counts again. The id is not signed, so
    /// it decides nothing: a new body under an id already seen runs.
    @Test("a signed delivery counts once: the same body within 10 minutes is a duplicate and runs nothing, whatever its id")
    func replayRefused() async throws {
        let lab = try BootServerTests.Lab()
        let store = try lab.store()
        let live = LiveDesired(store: store, server: try lab.reconciler.settings.server, discovery: nil)
        let loop = ReconcileLoop(reconciler: lab.reconciler, store: store, metrics: ControllerMetrics(),
                                 logger: Logger(label: "test"), live: live)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let server = BootHTTPServer(controller: FleetController(live: live, loop: loop, clock: clock.wallClock),
                                    auth: WebAuth(token: BootServerTests.token),
                                    webhook: Webhook(secret: "s3cret", followedRef: "main", clock: clock.wallClock))
        let other = Array(#"{"ref": "refs/heads/main", "after": "4567cdef"}"#.utf8)
        try await Application(router: server.router()).test(.live) { client in
            func deliver(_ body: [UInt8], id: String?, signed: Bool = true) async throws -> (HTTPResponse.Status, String) {
                var fields = headers(signed ? ["X-Hub-Signature-256": "sha256=" + hexSignature(body)] : [:])
                if let id { fields[HTTPField.Name("X-GitHub-Delivery")!] = id }
                return try await client.execute(uri: "/v1/hooks/git", method: .post, headers: fields, body: ByteBuffer(bytes: body)) {
                    ($0.status, String(buffer: $0.body))
                }
            }
            /// Whether the delivery asked for a run (a pending trigger, taken here).
            func triggered() async -> Bool { await loop.wake.wait(timeout: .zero) }

            #expect(try await deliver(push, id: "id-1") == (.accepted, #"{"queued":"true"}"#))
            #expect(await triggered())

            // GitHub's redelivery: the same id and body.
            let (status, answer) = try await deliver(push, id: "id-1")
            #expect(status == .accepted)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: String])
            #expect(json["queued"] == "false")
            #expect(json["reason"]?.hasPrefix("duplicate delivery: the same signed body (x-github-delivery: id-1)") == true, "\(answer)")
            #expect(await triggered() == false, "a duplicate runs nothing")
            // A replay: the id is not signed, so the attacker changes it or leaves it out.
            for id in ["id-2", nil] {
                let (replayed, text) = try await deliver(push, id: id)
                #expect(replayed == .accepted && text.contains("duplicate delivery: the same signed body"), "\(id ?? "no id"): \(text)")
                #expect(await triggered() == false)
            }
            // Another signed body under an id already seen runs: an old body resent under a
            // predictable id must not pre-empt a real push.
            #expect(try await deliver(other, id: "id-1").1 == #"{"queued":"true"}"#)
            #expect(await triggered())
            // An unsigned request is not remembered: the same body signed still runs once.
            let third = Array(#"{"ref": "refs/heads/main", "after": "89abcdef"}"#.utf8)
            #expect(try await deliver(third, id: "id-3", signed: false).0 == .unauthorized)
            #expect(try await deliver(third, id: "id-3").1 == #"{"queued":"true"}"#)
            #expect(await triggered())

            // Past the window the captured body counts again: one more fetch of the followed branch.
            clock.advance(by: 601)
            #expect(try await deliver(push, id: "id-4").1 == #"{"queued":"true"}"#)
            #expect(await triggered())
        }
        let metrics = loop.metrics.exposition()
        #expect(metrics.contains("dploy_webhook_deliveries_total{result=\"accepted\"} 4"), "\(metrics)")
        #expect(metrics.contains("dploy_webhook_deliveries_total{result=\"ignored\"} 3"))
        #expect(metrics.contains("dploy_webhook_deliveries_total{result=\"unauthorized\"} 1"))
    }

    @Test("the delivery memory is bounded: past its capacity the oldest deliveries are forgotten first")
    func recentDeliveriesBounded() {
        let recent = RecentDeliveries()
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        let deliveries = RecentDeliveries.capacity + 10
        for index in 0..<deliveries {
            #expect(recent.admit(ids: ["x-dploy-delivery: \(index)"], body: Array("\(index)".utf8),
                                 now: start.addingTimeInterval(Double(index) / 1000)) == nil)
        }
        let now = start.addingTimeInterval(Double(deliveries) / 1000)
        #expect(recent.admit(ids: [], body: Array("0".utf8), now: now) == nil, "the oldest was shed")
        #expect(recent.admit(ids: [], body: Array("\(deliveries - 1)".utf8), now: now) == "the same signed body")
    }
}
