import Foundation
import Testing

/// Issue 19, finding 2: a git author who can push a profile must not be able to name a
/// controller file (the web token, the callback key, a secret) as an installer template,
/// which dploy would render into a file served without login. `.dployignore` is the
/// author's to change, so it is rewritten here to hide nothing of the controller's.
extension PlanApplyCommandTests {
    @Test("a template inside the controller's state folder, directly or through a symlink, is refused at its line; nothing is rendered",
          arguments: [
            ("state/web.token", nil as String?, "drafts/\n", "the controller's state folder"),
            ("templates/innocent.mustache", "../state/callback.key", "drafts/\n", "the controller's state folder"),
            // Ignored or not, a controller folder is refused by name, not as a missing file.
            ("state/callback.key", nil, "drafts/\nstate/\nsecrets/\n", "the controller's state folder"),
            ("secrets/lab-bmc.yaml", nil, "drafts/\n", "the controller's secrets folder"),
          ])
    func templateFromStateFolder(_ template: String, link: String?, ignore: String, label: String) throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let fileManager = FileManager.default
        try Data(ignore.utf8).write(to: lab.appendingPathComponent(".dployignore"))
        try fileManager.createDirectory(at: lab.appendingPathComponent("state"), withIntermediateDirectories: true)
        try fileManager.createDirectory(at: lab.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        // 64 hex digits: a well-formed callback key, and a web token like any other.
        let secret = (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased()
        for name in ["state/web.token", "state/callback.key", "secrets/lab-bmc.yaml"] {
            let url = lab.appendingPathComponent(name)
            try Data("\(secret)\n".utf8).write(to: url)
            try fileManager.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url.path)
        }
        if let link {
            try fileManager.createSymbolicLink(atPath: lab.appendingPathComponent(template).path, withDestinationPath: link)
        }
        let profile = lab.appendingPathComponent("profiles/debian-12.yaml")
        let text = try String(contentsOf: profile, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "template: templates/debian-12.preseed.mustache",
                                           with: "template: \(template)").utf8).write(to: profile)

        for command in [["plan", "--no-color"], ["apply", "--auto-approve", "--no-color"]] {
            let run = try cli.dploy(command[0], command[1], in: lab)
            #expect(run.status == 1, "\(command): \(run.stdout)\(run.stderr)")
            #expect(run.stderr.contains(
                "profiles/debian-12.yaml:21:15: error: profile 'debian-12': installer.template '\(template)' resolves into \(label)"),
                "\(command): \(run.stderr)")
            #expect(run.stderr.contains("templates come only from the spec source"), "\(run.stderr)")
            #expect(!run.stdout.contains(secret) && !run.stderr.contains(secret))
        }
        // Nothing was rendered: no output at all, so no served file holds the secret.
        #expect(!fileManager.fileExists(atPath: lab.appendingPathComponent("out").path))
    }

    @Test("a store beside the specs (its folder is the spec folder) refuses only the controller's own files there, not every spec")
    func storeBesideTheSpecs() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let config = lab.appendingPathComponent("dploy.yaml")
        let text = try String(contentsOf: config, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "sqlite: state/dploy.db", with: "sqlite: dploy.db").utf8).write(to: config)
        let plan = try cli.dploy("plan", "--no-color", in: lab)
        #expect(plan.status == 2, "specs beside the store still load: \(plan.stderr)")

        let secret = (UUID().uuidString + UUID().uuidString).replacingOccurrences(of: "-", with: "").lowercased()
        try Data("\(secret)\n".utf8).write(to: lab.appendingPathComponent("callback.key"))
        let profile = lab.appendingPathComponent("profiles/debian-12.yaml")
        let profileText = try String(contentsOf: profile, encoding: .utf8)
        try Data(profileText.replacingOccurrences(of: "template: templates/debian-12.preseed.mustache",
                                                  with: "template: callback.key").utf8).write(to: profile)
        let refused = try cli.dploy("plan", "--no-color", in: lab)
        #expect(refused.status == 1 && refused.stderr.contains("resolves into the controller's state file callback.key"), "\(refused.stderr)")
        #expect(!refused.stdout.contains(secret) && !refused.stderr.contains(secret))
    }
}
