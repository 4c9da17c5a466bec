import DployGit
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Flux-like source semantics: a commit that fails any check never becomes desired state.
@Suite("Following a source", .ownThread, .requires(.git))
struct SourceTrackerTests {
    func tracker(_ fixture: GitFixture, allowHistoryRewrite: Bool = false, allowedSigners: String? = nil) -> SourceTracker {
        SourceTracker(source: GitSource(
            config: GitSourceConfig(repository: "file://" + fixture.path("upstream"), path: "site-a",
                                    allowHistoryRewrite: allowHistoryRewrite, allowedSigners: allowedSigners),
            cacheDirectory: fixture.path("cache")))
    }

    @Test("a broken commit after good ones is refused and the last good commit stays in force")
    func brokenCommitKeepsLastGood() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("upstream", files: Specs.fleet)
        let tracker = tracker(fixture)
        let first = tracker.update(SourceStatus())
        #expect(first.outcome == .accepted)
        let good = try #require(first.status.lastGood)

        let broken = try fixture.commit(["site-a/machines/web-02.yaml": Specs.machine("web-02", mac: "94:18:82:00:00:zz")],
                                        in: "upstream", message: "typo in web-02")
        let second = tracker.update(first.status)
        #expect(second.outcome == .rejected)
        #expect(second.status.lastGood == good)
        #expect(second.status.lastFetched?.id.hex == broken)
        let error = try #require(second.status.lastError)
        #expect(error.commit?.hex == broken)
        #expect(error.message.contains("commit \(broken.prefix(7)) is invalid (1 error)"))
        #expect(error.message.contains("\(broken.prefix(7)):site-a/machines/web-02.yaml:4:13: error: 'spec.mac' is not a MAC address"))
        // Desired state is still the good commit's: two machines, web-02 with its old MAC.
        #expect(second.desired?.commit.id == good.id)
        #expect(second.desired?.result.fleet.machine(named: "web-02")?.mac.value.description == "94:18:82:00:00:02")

        try fixture.commit(["site-a/machines/web-02.yaml": Specs.machine("web-02", mac: "94:18:82:00:00:22")],
                           in: "upstream", message: "fix web-02")
        let third = tracker.update(second.status)
        #expect(third.outcome == .accepted)
        #expect(third.status.lastError == nil)
        #expect(tracker.update(third.status).outcome == .unchanged)
    }

    @Test("a force-push that rewrites history is refused unless the config allows it")
    func forcePush() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("upstream", files: Specs.fleet)
        try fixture.commit(["site-a/machines/web-03.yaml": Specs.machine("web-03", mac: "94:18:82:00:00:03")],
                           in: "upstream", message: "add web-03")
        var status = tracker(fixture).update(SourceStatus()).status
        status.lastApplied = status.lastGood

        // Rewrite: drop the last commit and commit something else in its place.
        try fixture.git("reset", "-q", "--hard", "HEAD~1", in: "upstream")
        let rewritten = try fixture.commit(["site-a/machines/web-04.yaml": Specs.machine("web-04", mac: "94:18:82:00:00:04")],
                                           in: "upstream", message: "add web-04 instead")
        let refused = tracker(fixture).update(status)
        #expect(refused.outcome == .rejected)
        #expect(refused.status.lastGood == status.lastGood)
        let message = try #require(refused.status.lastError?.message)
        #expect(message.contains("history was rewritten: commit \(rewritten.prefix(7)) does not descend from the last applied commit \(status.lastApplied!.id.short)"))

        let allowed = tracker(fixture, allowHistoryRewrite: true).update(status)
        #expect(allowed.outcome == .accepted)
        #expect(allowed.status.lastGood?.id.hex == rewritten)
    }

    @Test("with allowed signers, only commits signed by a listed key are accepted",
          .requires(.sshKeygen))
    func signatures() throws {
        let fixture = try GitFixture()
        for key in ["operator", "intruder"] {
            try fixture.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", fixture.path(key)])
        }
        let publicKey = try String(contentsOfFile: fixture.path("operator.pub"), encoding: .utf8)
        try Data("ops@example.net \(publicKey)".utf8).write(to: URL(fileURLWithPath: fixture.path("allowed_signers")))
        func signing(_ key: String) -> [String] {
            ["-c", "gpg.format=ssh", "-c", "user.signingkey=\(fixture.path(key))", "-c", "commit.gpgsign=true"]
        }
        try fixture.run(["git", "init", "-q", "-b", "main", "upstream"])
        try fixture.commit(Specs.fleet, in: "upstream", message: "signed by the operator", extra: signing("operator"))
        let tracker = tracker(fixture, allowedSigners: fixture.path("allowed_signers"))

        let signed = tracker.update(SourceStatus())
        #expect(signed.outcome == .accepted, "\(signed.status.lastError?.message ?? "")")

        let unsigned = try fixture.commit(["site-a/machines/web-03.yaml": Specs.machine("web-03", mac: "94:18:82:00:00:03")],
                                          in: "upstream", message: "unsigned")
        let refusedUnsigned = tracker.update(signed.status)
        #expect(refusedUnsigned.outcome == .rejected)
        #expect(refusedUnsigned.status.lastError?.message == "commit \(unsigned.prefix(7)) is not signed, and the source requires signatures from allowed signers")
        #expect(refusedUnsigned.status.lastGood == signed.status.lastGood)

        let forged = try fixture.commit(["site-a/machines/web-04.yaml": Specs.machine("web-04", mac: "94:18:82:00:00:04")],
                                        in: "upstream", message: "signed by someone else", extra: signing("intruder"))
        let refusedForged = tracker.update(refusedUnsigned.status)
        #expect(refusedForged.outcome == .rejected)
        #expect(refusedForged.status.lastError?.message.hasPrefix("commit \(forged.prefix(7)) has no valid signature from an allowed signer") == true)

        try fixture.commit([:], in: "upstream", message: "signed again", extra: signing("operator"))
        #expect(tracker.update(refusedForged.status).outcome == .accepted)
    }

    @Test("source status survives a restart: written atomically, read back the same")
    func statusFile() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("upstream", files: Specs.fleet)
        let update = tracker(fixture).update(SourceStatus())
        let path = fixture.path("state/source-status.json")
        try update.status.write(to: path)
        #expect(try SourceStatus.read(from: path) == update.status)
        #expect(try SourceStatus.read(from: fixture.path("state/absent.json")) == SourceStatus())
    }
}

@Suite("Source failures keep what was good", .ownThread, .requires(.git))
struct SourceFailureTests {
    @Test("when the remote is gone, the last good commit is still loaded from the cache")
    func remoteGone() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("upstream", files: Specs.fleet)
        let source = GitSource(config: GitSourceConfig(repository: "file://" + fixture.path("upstream"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let first = SourceTracker(source: source).update(SourceStatus())
        #expect(first.outcome == .accepted)
        try FileManager.default.moveItem(atPath: fixture.path("upstream"), toPath: fixture.path("moved"))

        // A new process, as after a restart: only the cache is left.
        let restarted = GitSource(config: source.config, cacheDirectory: fixture.path("cache"))
        let update = SourceTracker(source: restarted).update(first.status)
        #expect(update.outcome == .rejected)
        #expect(update.status.lastError?.message.hasPrefix("fetching file://") == true)
        #expect(update.desired?.result.fleet.machines.count == 2)
    }

    @Test("plaintext transports are refused, and credentials in a URL never reach a message")
    func plaintextAndCredentials() throws {
        for url in ["http://198.18.0.1/fleet.git", "git://198.18.0.1/fleet.git"] {
            let source = GitSource(config: GitSourceConfig(repository: url), cacheDirectory: "/nonexistent")
            #expect(throws: SourceError.self) { try source.fetch() }
        }
        let cache = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: cache) }
        let secret = GitSource(config: GitSourceConfig(repository: "https://ops:s3cret@127.0.0.1:9/fleet.git"),
                               cacheDirectory: cache.path)
        do {
            _ = try secret.fetch()
            Issue.record("nothing listens on port 9")
        } catch {
            #expect(!String(describing: error).contains("s3cret"))
            #expect(String(describing: error).contains("https://***@127.0.0.1:9/fleet.git"))
        }
    }
}
