import DployTestSupport
import Foundation
import Testing

/// Runs the real `dploy` binary and checks what an operator sees: exit code, stdout, stderr.
@Suite("dploy validate, from the command line", .ownThread)
struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `dploy` built next to this test bundle.
    static var binary: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("dploy").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("dploy")
    }

    func dploy(_ arguments: String..., in folder: URL = repositoryRoot) throws -> Run {
        try dploy(arguments: arguments, in: folder)
    }

    func dploy(arguments: [String], in folder: URL = repositoryRoot) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // A guard against a hang, not a speed test: a run that spins (a hostile file) fails
        // with what it printed instead of stalling the suite.
        let guardTimer = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: guardTimer)
        defer { guardTimer.cancel() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test("the example lab is valid: exit 0 and a one-line summary")
    func labIsValid() throws {
        let run = try dploy("validate", "examples/lab")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "8 machines, 3 groups, 2 profiles, 2 firmware baselines, 2 tasks (17 documents in 9 files)\n")
        #expect(run.stderr.isEmpty)
    }

    @Test("errors go to stderr as file:line:column, exit 1")
    func errorsExitOne() throws {
        let folder = try makeFolder([
            "machines/web.yaml": """
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: web-01}
                spec: {mac: "94:18:82:00:00:01", generaton: 2}
                """,
            "notes.txt": "not a spec",
            ".hidden/broken.yaml": "{{{",
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try dploy("validate", ".", in: folder)
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr == """
            machines/web.yaml:4:34: error: unknown field 'spec.generaton'; did you mean 'generation'?
            1 error in .

            """)
    }

    @Test("--show prints the effective spec and where inherited values came from")
    func show() throws {
        let run = try dploy("validate", "examples/lab", "--show", "web-04")
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("machine web-04  (examples/lab/machines/") })
        let firmware = try #require(lines.first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("firmware ") })
        #expect(firmware.contains("gen11-2026-10") && firmware.contains("from group gen11 (examples/lab/groups.yaml:"))
        let unknown = try dploy("validate", "examples/lab", "--show", "web-99")
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no machine named 'web-99'"))
    }

    @Test("--json gives the same result for programs")
    func json() throws {
        let run = try dploy("validate", "examples/lab", "--json", "--show", "db-03")
        #expect(run.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(object["valid"] as? Bool == true)
        #expect((object["errors"] as? [Any])?.isEmpty == true)
        let machine = try #require(object["machine"] as? [String: String])
        #expect(machine["name"] == "db-03")
        #expect(machine["disk"] == "/dev/nvme0n1")
    }

    @Test("a path that does not exist is a clear error")
    func missingPath() throws {
        let run = try dploy("validate", "no/such/folder")
        #expect(run.status == 1)
        #expect(run.stderr == "error: no/such/folder: no such file or folder\n")
    }

    func makeFolder(_ files: [String: String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-cli-\(UUID().uuidString)")
        for (path, text) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
        return folder
    }
}
