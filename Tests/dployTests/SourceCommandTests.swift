import DployTestSupport
import Foundation
import Testing

/// `dploy validate --source` and `dploy source fetch|status` against a real repository.
@Suite("dploy and git sources, from the command line", .ownThread,
       .requires(.git))
struct SourceCommandTests {
    let cli = CommandLineTests()

    /// A repository holding the example lab under site-a/, made with the git CLI, without
    /// the lab's tasks: these tests apply, and the tasks would SSH to and boot the lab's
    /// machines, whose addresses exist nowhere here.
    func makeLabRepository() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-src-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try shell("git init -q -b main upstream && cp -r '\(CommandLineTests.repositoryRoot.path)/examples/lab' upstream/site-a"
                  + " && rm -r upstream/site-a/tasks && cd upstream && git add -A && git commit -q -m 'the lab'", in: folder)
        return folder
    }

    func shell(_ script: String, in folder: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = folder.path
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        for role in ["AUTHOR", "COMMITTER"] {
            environment["GIT_\(role)_NAME"] = "Test Operator"
            environment["GIT_\(role)_EMAIL"] = "ops@example.net"
        }
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(script)")
    }

    @Test("validate --source file://… --ref main --path site-a")
    func validateFromGit() throws {
        let folder = try makeLabRepository()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = "file://" + folder.appendingPathComponent("upstream").path
        let run = try cli.dploy("validate", "--source", url, "--ref", "main", "--path", "site-a",
                                "--cache", folder.appendingPathComponent("cache").path)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.hasPrefix("8 machines, 3 groups, 2 profiles, 2 firmware baselines, 0 tasks (15 documents in 7 files) at "))
        #expect(run.stdout.hasSuffix(" \"the lab\"\n"))

        try shell("cd upstream && sed -i 's/generation: 1/generation: one/' site-a/machines/rack-r1.yaml"
                  + " && git commit -q -am 'break web-02'", in: folder)
        let broken = try cli.dploy("validate", "--source", url, "--path", "site-a",
                                   "--cache", folder.appendingPathComponent("cache").path)
        #expect(broken.status == 1)
        let firstLine = try #require(broken.stderr.split(separator: "\n").first)
        #expect(firstLine.contains(":site-a/machines/rack-r1.yaml:"))
        #expect(firstLine.contains("error: 'spec.generation' must be an integer, found a string"))
    }

    @Test("source fetch keeps the last good commit; source status shows it and the error")
    func fetchAndStatus() throws {
        let folder = try makeLabRepository()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = folder.appendingPathComponent("dploy.yaml")
        try Data("""
            source: {url: "file://\(folder.path)/upstream", ref: main, path: site-a}
            store: {sqlite: state/dploy.db}
            """.utf8).write(to: config)

        let fetched = try cli.dploy("source", "fetch", "--config", config.path)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.hasPrefix("accepted "))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("state/source-status.json").path))

        try shell("cd upstream && printf 'apiVersion: dploy.org/v1\\nkind: Machine\\n' > site-a/machines/half.yaml"
                  + " && git add -A && git commit -q -m 'half a machine'", in: folder)
        let refused = try cli.dploy("source", "fetch", "--config", config.path)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refused: commit "))
        #expect(refused.stderr.contains("in force: "))
        #expect(refused.stderr.contains("\"the lab\""))

        // Apply takes the last good commit and records it as applied.
        try Data("""
            source: {url: "file://\(folder.path)/upstream", ref: main, path: site-a}
            store: {sqlite: state/dploy.db}
            output: {http: out/http, tftp: out/tftp}
            server: {url: "http://198.18.0.1:8080"}
            """.utf8).write(to: config)
        let applied = try cli.dploy("apply", "--auto-approve", "--config", config.path)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(applied.stdout.hasPrefix("dploy plan  ·  source "))
        #expect(applied.stdout.contains("\"the lab\" (newest commit refused: commit "))

        let status = try cli.dploy("source", "status", "--config", config.path)
        #expect(status.status == 0)
        let lines = status.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first { $0.hasPrefix("last fetched") }?.hasSuffix("\"half a machine\"") == true)
        #expect(lines.first { $0.hasPrefix("last good") }?.hasSuffix("\"the lab\"") == true)
        #expect(lines.first { $0.hasPrefix("last applied") }?.hasSuffix("\"the lab\"") == true)
        #expect(lines.contains { $0.hasPrefix("last error") && $0.contains("is invalid") })
    }
}
