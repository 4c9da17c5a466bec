import Foundation
import Testing
import DployTestSupport

/// Real repositories made with the git CLI in a temporary folder, isolated from the
/// user's git config.
final class GitFixture {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-git-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// Runs a command in `folder` (relative to the fixture) and returns its stdout, trimmed.
    @discardableResult
    func run(_ arguments: [String], in folder: String = "", input: String? = nil) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = root.path
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["GIT_AUTHOR_NAME"] = "Test Operator"
        environment["GIT_AUTHOR_EMAIL"] = "ops@example.net"
        environment["GIT_COMMITTER_NAME"] = "Test Operator"
        environment["GIT_COMMITTER_EMAIL"] = "ops@example.net"
        let output = try DployTestSupport.run("/usr/bin/env", arguments, input: input,
                                              in: folder.isEmpty ? root : root.appendingPathComponent(folder),
                                              environment: environment)
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @discardableResult
    func git(_ arguments: String..., in folder: String) throws -> String {
        try run(["git"] + arguments, in: folder)
    }

    /// A work tree repository on branch main with an initial commit of `files`.
    func makeRepository(_ name: String, files: [String: String], message: String = "first") throws {
        try run(["git", "init", "-q", "-b", "main", name])
        try commit(files, in: name, message: message)
    }

    /// Writes files (nil deletes) and commits them; returns the new commit id.
    @discardableResult
    func commit(_ files: [String: String?], in repository: String, message: String, extra: [String] = []) throws -> String {
        for (path, text) in files {
            let url = root.appendingPathComponent(repository).appendingPathComponent(path)
            if let text {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Data(text.utf8).write(to: url)
            } else {
                try FileManager.default.removeItem(at: url)
            }
        }
        try run(["git", "add", "-A"], in: repository)
        try run(["git"] + extra + ["commit", "-q", "--allow-empty", "-m", message], in: repository)
        return try git("rev-parse", "HEAD", in: repository)
    }

}


/// A small valid fleet: a profile and two machines.
enum Specs {
    static let profile = """
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: debian-12}
        spec:
          boot: {kernel: "http://198.18.0.1:8080/linux", initrd: "http://198.18.0.1:8080/initrd.gz"}
        """

    static func machine(_ name: String, mac: String, generation: Int = 0) -> String {
        """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: \(name)}
        spec: {mac: "\(mac)", profile: debian-12, generation: \(generation)}
        """
    }

    static let fleet: [String: String] = [
        "site-a/profiles/debian-12.yaml": profile,
        "site-a/machines/web-01.yaml": machine("web-01", mac: "94:18:82:00:00:01"),
        "site-a/machines/web-02.yaml": machine("web-02", mac: "94:18:82:00:00:02"),
        "README.md": "not a spec\n",
    ]
}
