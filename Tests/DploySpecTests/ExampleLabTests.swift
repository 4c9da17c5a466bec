import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("The example lab", .ownThread)
struct ExampleLabTests {
    let lab = repositoryRoot.appendingPathComponent("examples/lab").path

    @Test("validates cleanly, with the drafts folder ignored")
    func validates() throws {
        let (files, knownPaths) = try SpecDirectory(root: lab).read()
        let result = SpecLoader(knownPaths: knownPaths).load(files)
        #expect(result.diagnostics.map(\.description) == [])
        #expect(result.fleet.machines.count == 8)
        #expect(result.fleet.groups.count >= 2)
        #expect(result.fleet.profiles.map(\.name) == ["debian-12", "rocky-9"])
        #expect(!files.contains { $0.path.contains("drafts/") }, ".dployignore excludes drafts/")
        #expect(!files.contains { $0.path.hasSuffix("/dploy.yaml") }, "the controller config is not a spec")
    }

    @Test("every machine has an address in 198.18.0.0/24; web and db machines get a profile from their group")
    func addresses() throws {
        let (files, knownPaths) = try SpecDirectory(root: lab).read()
        let fleet = SpecLoader(knownPaths: knownPaths).load(files).fleet
        let resolver = DefaultsResolver(groups: fleet.groups)
        for machine in fleet.machines {
            #expect(machine.ip?.value.description.hasPrefix("198.18.0.") == true, "\(machine.name)")
            let effective = resolver.resolve(machine)
            if ["web", "db"].contains(machine.metadata.labels["role"]) {
                #expect(effective.origins["profile"].map { if case .group = $0 { true } else { false } } == true,
                        "\(machine.name)")
            }
        }
    }
}

@Suite("Symlinks in a spec folder", .ownThread)
struct FolderSymlinkTests {
    @Test("a link to a file inside is followed; a link outside, to a folder, or nowhere is refused")
    func symlinks() throws {
        let folder = try makeTemporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try write(["specs/machines/web.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                   "secret.yaml": "password: hunter2\n"], under: folder)
        let specs = folder.appendingPathComponent("specs").path
        let manager = FileManager.default
        try manager.createSymbolicLink(atPath: specs + "/alias.yaml", withDestinationPath: "machines/web.yaml")
        #expect(throws: Never.self) { try SpecDirectory(root: specs).read() }

        try write(["specs/.dployignore": "secrets/\n", "specs/secrets/ilo.yaml": "password: hunter2\n"], under: folder)
        for (name, target, reason) in [("leak.yaml", "../secret.yaml", "it points outside"),
                                       ("inside.yaml", "secrets/ilo.yaml", "it points to secrets/ilo.yaml, which dploy ignores"),
                                       ("loop", ".", "links to folders are not followed"),
                                       ("dangling.yaml", "nowhere.yaml", "it points nowhere")] {
            try manager.createSymbolicLink(atPath: specs + "/" + name, withDestinationPath: target)
            do {
                _ = try SpecDirectory(root: specs).read()
                Issue.record("\(name) must be refused")
            } catch let error as SpecSourceError {
                #expect(error.description.contains("\(name): symlink refused: \(reason)"))
            }
            try manager.removeItem(atPath: specs + "/" + name)
        }
        // A broken link that is ignored anyway (an editor's lock file) does not stop the read.
        try manager.createSymbolicLink(atPath: specs + "/.#web.yaml", withDestinationPath: "user@host.1:1")
        #expect(throws: Never.self) { try SpecDirectory(root: specs).read() }
    }
}
