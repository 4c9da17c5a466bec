@testable import DployGit
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("Specs read from git objects", .ownThread, .requires(.git))
struct GitSourceTests {
    @Test("a work tree repository is read at a commit, never from the work tree")
    func workTreeUntouched() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        // An uncommitted edit that would break validation, and must stay as the operator left it.
        let edited = fixture.path("repo/site-a/machines/web-01.yaml")
        try Data("broken: [".utf8).write(to: URL(fileURLWithPath: edited))

        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let commit = try source.fetch()
        let snapshot = try source.load(commit.id)
        #expect(snapshot.result.diagnostics.isEmpty, "\(snapshot.renderedDiagnostics)")
        #expect(snapshot.result.fleet.machines.map(\.name) == ["web-01", "web-02"])
        #expect(commit.summary == "first")
        #expect(try String(contentsOfFile: edited, encoding: .utf8) == "broken: [")
        #expect(try fixture.git("status", "--porcelain", in: "repo") == "M site-a/machines/web-01.yaml")
        #expect(!FileManager.default.fileExists(atPath: fixture.path("cache")), "a local repository needs no cache")
    }

    @Test("a bare repository, a branch, a tag and a commit id")
    func bareAndRefs() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        try fixture.git("tag", "v1", in: "repo")
        let second = try fixture.commit(["site-a/machines/web-03.yaml": Specs.machine("web-03", mac: "94:18:82:00:00:03")],
                                        in: "repo", message: "add web-03")
        try fixture.run(["git", "clone", "-q", "--bare", "repo", "repo.git"])

        func machines(ref: String?) throws -> [String] {
            let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo.git"), ref: ref, path: "site-a"),
                                   cacheDirectory: fixture.path("cache"))
            return try source.load(source.fetch().id).result.fleet.machines.map(\.name)
        }
        #expect(try machines(ref: nil) == ["web-01", "web-02", "web-03"])
        #expect(try machines(ref: "main") == ["web-01", "web-02", "web-03"])
        #expect(try machines(ref: "v1") == ["web-01", "web-02"])
        #expect(try machines(ref: String(second.prefix(12))) == ["web-01", "web-02", "web-03"])
        #expect(throws: SourceError.self) { try machines(ref: "no-such-branch") }
    }

    @Test("errors name the commit as well as file:line:column")
    func diagnosticsNameTheCommit() throws {
        let fixture = try GitFixture()
        var files = Specs.fleet
        files["site-a/machines/web-02.yaml"] = Specs.machine("web-02", mac: "94:18:82:00:00:01")
        try fixture.makeRepository("repo", files: files)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let commit = try source.fetch()
        let snapshot = try source.load(commit.id)
        #expect(snapshot.renderedDiagnostics == [
            "\(commit.id.short):site-a/machines/web-02.yaml:4:13: error: MAC 94:18:82:00:00:01 is already used by machine 'web-01' (site-a/machines/web-01.yaml:4:13)",
        ])
    }

    @Test("a file:// remote that gains commits is fetched into the cache")
    func remoteGainsCommits() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("upstream", files: Specs.fleet)
        let url = "file://" + fixture.path("upstream")
        let source = GitSource(config: GitSourceConfig(repository: url, path: "site-a"), cacheDirectory: fixture.path("cache"))
        let first = try source.fetch()
        #expect(try source.load(first.id).result.fleet.machines.count == 2)
        #expect(FileManager.default.fileExists(atPath: source.cachePath + "/HEAD"), "a bare cache repository")

        let second = try fixture.commit(["site-a/machines/web-03.yaml": Specs.machine("web-03", mac: "94:18:82:00:00:03")],
                                        in: "upstream", message: "add web-03")
        let fetched = try source.fetch()
        #expect(fetched.id.hex == second)
        #expect(try source.load(fetched.id).result.fleet.machines.count == 3)
        #expect(source.lastParseCount == 1, "only the new file is parsed")
    }

    @Test("a one-file commit re-parses one file")
    func incremental() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        _ = try source.load(source.fetch().id)
        #expect(source.lastParseCount == 3)
        try fixture.commit(["site-a/machines/web-01.yaml": Specs.machine("web-01", mac: "94:18:82:00:00:01", generation: 1)],
                           in: "repo", message: "reinstall web-01")
        let snapshot = try source.load(source.fetch().id)
        #expect(source.lastParseCount == 1)
        #expect(snapshot.result.fleet.machine(named: "web-01")?.settings.generation == 1)
    }

    @Test("the caches hold two commits' files however many commits go by, and going back one parses nothing")
    func cachesStayBounded() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        _ = try source.load(source.fetch().id)
        let (listings, blobs) = (source.treeListings.count, source.parsedBlobs.count)
        var commits: [GitObjectID] = []
        for generation in 1...6 {
            try fixture.commit(["site-a/machines/web-01.yaml": Specs.machine("web-01", mac: "94:18:82:00:00:01", generation: generation)],
                               in: "repo", message: "reinstall web-01")
            commits.append(try source.fetch().id)
            _ = try source.load(commits.last!)
            #expect(source.lastParseCount == 1)
        }
        // This commit's files and the one web-01 of the commit before; the listings of both.
        #expect(source.parsedBlobs.count == blobs + 1)
        #expect(source.treeListings.count <= 2 * listings, "\(source.treeListings.count) listings, \(listings) trees")
        let back = try source.load(commits[commits.count - 2])
        #expect(source.lastParseCount == 0)
        #expect(back.result.fleet.machine(named: "web-01")?.settings.generation == 5)
        // Back again: the subtrees the cached listing stood for were kept too.
        _ = try source.load(commits.last!)
        #expect(source.lastParseCount == 0)
    }

    @Test("submodules, escaping symlinks, oversized blobs and a missing --path are refused")
    func refusals() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        try fixture.run(["ln", "-s", "../../../etc/passwd", "site-a/machines/escape.yaml"], in: "repo")
        try fixture.run(["ln", "-s", "web-01.yaml", "site-a/machines/alias.yml"], in: "repo")
        let head = try fixture.commit(["site-a/machines/big.yaml": "# " + String(repeating: "x", count: 5000) + "\n"],
                                      in: "repo", message: "odd files")
        // A gitlink (submodule entry) needs no checkout: put it straight into the index.
        try fixture.git("update-index", "--add", "--cacheinfo", "160000,\(head),site-a/vendor", in: "repo")
        try fixture.git("commit", "-q", "-m", "add a submodule", in: "repo")

        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a", maxBlobBytes: 4096),
                               cacheDirectory: fixture.path("cache"))
        let snapshot = try source.load(source.fetch().id)
        let lines = snapshot.result.diagnostics.map { "\($0.location.file): \($0.message)" }
        #expect(lines.contains("site-a/vendor: submodules are not supported: put the specs in the repository itself"))
        #expect(lines.contains("site-a/machines/escape.yaml: symlink points outside the repository, to '../../../etc/passwd'"))
        #expect(lines.contains("site-a/machines/big.yaml: file is over the limit of 4096 bytes; split it into several files"))
        // A symlink inside the repository is followed: web-01 twice is a duplicate name.
        #expect(lines.contains { $0.hasPrefix("site-a/machines/web-01.yaml: Machine 'web-01' is already defined at site-a/machines/alias.yml") })

        let missing = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-b"),
                                cacheDirectory: fixture.path("cache"))
        let commit = try missing.fetch()
        #expect(throws: SourceError.pathMissing("site-b", commit: commit.id.short)) { try missing.load(commit.id) }
    }

    @Test("a commit nesting 20,000 folders is refused, naming the folder past the limit, not a stack overflow")
    func deepTree() throws {
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        // fast-import builds the whole chain from one stream: 20,000 mkdirs would take minutes.
        let deepFile = "site-a/" + Array(repeating: "d", count: 20_000).joined(separator: "/") + "/web-09.yaml"
        let text = Specs.machine("web-09", mac: "94:18:82:00:00:09")
        try fixture.run(["git", "fast-import", "--quiet"], in: "repo", input: """
            commit refs/heads/main
            committer Test Operator <ops@example.net> 1700000000 +0000
            data 5
            deep
            from refs/heads/main^0
            M 100644 inline \(deepFile)
            data \(text.utf8.count)
            \(text)

            """)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let commit = try source.fetch()
        #expect(commit.summary == "deep")
        let error = #expect(throws: SourceError.self) { try source.load(commit.id) }
        let tooDeep = "site-a/" + Array(repeating: "d", count: 65).joined(separator: "/")
        #expect(error?.description
                == "commit \(commit.id.short) nests folders more than 64 deep, at '\(tooDeep)': keep specs at most 64 folders down")
    }

    @Test("ssh:// sources are refused until host keys are checked")
    func sshRefused() throws {
        let source = GitSource(config: GitSourceConfig(repository: "ssh://git@198.18.0.1/fleet.git"), cacheDirectory: "/nonexistent")
        #expect(throws: SourceError.self) { try source.fetch() }
    }
}

extension GitSourceTests {
    /// Issue 19, finding 2, for a git source: templates are git objects under the spec folder
    /// (`path:`), so a path that climbs out of it reads nothing, even if validation were
    /// skipped, and validation says so at the profile's line.
    @Test("a template path that leaves the spec folder reads nothing and is an error at its line")
    func templateCannotEscape() throws {
        let fixture = try GitFixture()
        var files = Specs.fleet
        files["secret.txt"] = "not a template\n"
        files["site-a/templates/ok.mustache"] = "ok\n"
        files["site-a/profiles/escape.yaml"] = """
            apiVersion: dploy.org/v1
            kind: Profile
            metadata: {name: escape}
            spec:
              boot: {kernel: "http://198.18.0.1/k", initrd: "http://198.18.0.1/i"}
              installer: {kind: preseed, template: ../secret.txt}

            """
        try fixture.makeRepository("repo", files: files)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let commit = try source.fetch()
        let snapshot = try source.load(commit.id)
        #expect(snapshot.result.diagnostics.map(\.description).contains {
            $0.hasPrefix("site-a/profiles/escape.yaml:6:40: error: profile 'escape': template '../secret.txt' must be a path inside the spec tree")
        }, "\(snapshot.renderedDiagnostics)")
        #expect(try source.file(atPath: "../secret.txt", commit: commit.id) == nil)
        #expect(try source.file(atPath: "templates/../../secret.txt", commit: commit.id) == nil)
        #expect(try source.file(atPath: "/secret.txt", commit: commit.id) == nil)
        #expect(try source.file(atPath: "./templates/ok.mustache", commit: commit.id) == Array("ok\n".utf8))
    }
}

@Suite("Repository URLs in messages", .ownThread)
struct RedactionTests {
    @Test("credentials are hidden whole, even a password with '@' in it")
    func passwordWithAt() {
        #expect(GitSourceConfig.redacted("fetch https://deploy:p@ss@w0rd@git.example/fleet.git failed")
                == "fetch https://***@git.example/fleet.git failed")
        #expect(GitSourceConfig.redacted("https://user:se#cr3t/x?y@127.0.0.1:9/x.git failed") == "https://***@127.0.0.1:9/x.git failed")
        #expect(GitSourceConfig.redacted("https://token@git.example/a@b.git") == "https://***@b.git", "over-redacted, never under")
        #expect(GitSourceConfig.redacted("ssh://git@host:22/x and https://u:pw@h/y")
                == "ssh://***@host:22/x and https://***@h/y")
        #expect(GitSourceConfig.redacted("/srv/git/fleet.git") == "/srv/git/fleet.git")
    }

    @Test("the git cache folder is not named after a password in the URL")
    func cacheFolderName() {
        let source = GitSource(config: GitSourceConfig(repository: "https://deploy:s3cretpass@git.example/fleet.git"),
                               cacheDirectory: "/var/lib/dploy/git-cache")
        #expect(!source.cachePath.contains("s3cretpass"), "\(source.cachePath)")
        #expect(source.cachePath.hasPrefix("/var/lib/dploy/git-cache/example-fleet-git-"), "\(source.cachePath)")
    }

    @Test("a kept commit is checked against the rules as they are now; a refused newest commit and the last good are both kept")
    func keptLoadsRecheckRules() throws {
        final class Switch: @unchecked Sendable { var refusing = false }
        let fixture = try GitFixture()
        try fixture.makeRepository("repo", files: Specs.fleet)
        let source = GitSource(config: GitSourceConfig(repository: fixture.path("repo"), path: "site-a"),
                               cacheDirectory: fixture.path("cache"))
        let rules = Switch()
        source.rules = { _ in
            rules.refusing ? [Diagnostic("no login may go there", at: SourceLocation(file: "site-a/x.yaml", line: 1, column: 1))] : []
        }
        let good = try source.fetch().id
        #expect(try source.load(good).result.isValid)
        let assembled = source.assembleCount
        rules.refusing = true  // as when the secrets folder changes
        #expect(try source.load(good).result.isValid == false, "kept, and still checked")
        rules.refusing = false
        #expect(try source.load(good).result.isValid, "a refusal by the rules is not kept")
        #expect(source.assembleCount == assembled)

        _ = try fixture.commit(["site-a/machines/web-02.yaml": "apiVersion: [broken"], in: "repo", message: "broken")
        let head = try source.fetch().id
        #expect(try source.load(head).result.isValid == false)
        for _ in 0..<2 {
            #expect(try source.load(good).result.isValid)
            #expect(try source.load(head).result.isValid == false)
        }
        #expect(source.assembleCount == assembled + 1, "each run loads both, and neither is assembled again")
    }
}
