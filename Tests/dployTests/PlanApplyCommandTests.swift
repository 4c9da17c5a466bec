import DployInventory
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// `dploy plan` and `dploy apply` as an operator runs them on a copy of the example lab.
@Suite("dploy plan and apply, from the command line", .ownThread,
       .requires(.dnsmasq))
struct PlanApplyCommandTests {
    let cli = CommandLineTests()

    func labCopy() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-cli-lab-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: CommandLineTests.repositoryRoot.appendingPathComponent("examples/lab"), to: folder)
        // What a `make demo` left in the lab is not part of it.
        try? FileManager.default.removeItem(at: folder.appendingPathComponent("out"))
        try? FileManager.default.removeItem(at: folder.appendingPathComponent("state"))
        // These tests apply: the lab's tasks would SSH to and boot machines that exist nowhere.
        try FileManager.default.removeItem(at: folder.appendingPathComponent("tasks"))
        // The lab ships plan-only; these tests apply.
        let config = folder.appendingPathComponent("dploy.yaml")
        let text = try String(contentsOf: config, encoding: .utf8)
        // It names server.listen, so dploy would serve the iPXE scripts and write none; these
        // tests check boot files on disk.
        let applying = text.replacingOccurrences(of: "mode: plan-only", with: "mode: apply")
            .replacingOccurrences(of: "output: {http: out/http, tftp: out/tftp}", with: "output: {http: out/http, tftp: out/tftp, snapshots: true}")
        #expect(applying.contains("snapshots: true"))
        try Data(applying.utf8).write(to: config)
        return folder
    }

    @Test("what apply creates gets its own mode, whatever the operator's umask", arguments: ["000", "077"])
    func modesIgnoreTheUmask(umask: String) throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "umask \(umask) && exec \"$0\" apply --auto-approve --no-color", CommandLineTests.binary.path]
        process.currentDirectoryURL = lab
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        func mode(_ relative: String) throws -> Int {
            let attributes = try FileManager.default.attributesOfItem(atPath: lab.appendingPathComponent(relative).path)
            return (attributes[.posixPermissions] as? Int ?? -1) & 0o7777
        }
        // Boot files: readable by the TFTP server (umask 077 made them 0600), writable by no
        // one else (umask 000 made their folders 0777).
        let out = try #require(FileManager.default.enumerator(atPath: lab.appendingPathComponent("out").path))
        var checked = 0
        for case let relative as String in out {
            let path = "out/" + relative
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: lab.appendingPathComponent(path).path, isDirectory: &isDirectory)
            #expect(try mode(path) == (isDirectory.boolValue ? 0o755 : 0o644), "\(path) under umask \(umask)")
            checked += 1
        }
        #expect(checked > 10)
        #expect(try mode("out") == 0o755)
        // The state folder: the dploy user and its group, never others (the store's own
        // modes are tested where it is made, DployInventoryTests).
        #expect(try mode("state") == 0o750)
        #expect(try mode("state/callback.key") == 0o600)
    }

    @Test("an output folder other users can write to stops the apply before anything is written")
    func worldWritableOutput() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let installers = lab.appendingPathComponent("out/http/installers")
        try FileManager.default.createDirectory(at: installers, withIntermediateDirectories: true)
        chmod(installers.path, 0o777)
        let run = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(run.status == 1)
        #expect(run.stderr.contains("other users can write to out/http/installers, where dploy writes boot files"), "\(run.stderr)")
        #expect(run.stderr.contains("chmod o-w"))
        #expect((try FileManager.default.contentsOfDirectory(atPath: installers.path)).isEmpty, "nothing was written")
        #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent("out/http/boot.ipxe").path))
    }

    @Test("dploy rollout resume takes group/NAME for a group's rollout, and a bare group name is told what to write")
    func resumeGroupRollout() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let groups = lab.appendingPathComponent("groups.yaml")
        let text = try String(contentsOf: groups, encoding: .utf8)
        // A rollout governs the group's BIOS and RAID defaults: web gets one to govern.
        let withRollout = text.replacingOccurrences(of: "  selector: {role: web}\n", with: "  selector: {role: web}\n  rollout: {maxFailures: 0}\n")
            .replacingOccurrences(of: "    profile: debian-12\n", with: "    profile: debian-12\n    bios: {attributes: {Sriov: Enabled}}\n")
        try Data(withRollout.utf8).write(to: groups)
        let bare = try cli.dploy("rollout", "resume", "web", in: lab)
        #expect(bare.status == 1)
        #expect(bare.stderr.contains("error: no FirmwareBaseline 'web' in the desired state; the rollout of Group 'web' is named group/web"), "\(bare.stderr)")
        let noRollout = try cli.dploy("rollout", "resume", "group/db", in: lab)
        #expect(noRollout.status == 1 && noRollout.stderr.contains("error: Group 'db' has no 'spec.rollout': there is nothing to resume"), "\(noRollout.stderr)")
        // The store a daemon would have made (the lab's apply boots nothing, so makes none).
        try FileManager.default.createDirectory(at: lab.appendingPathComponent("state"), withIntermediateDirectories: true)
        _ = try SQLiteStore(path: lab.appendingPathComponent("state/dploy.db").path, readOnly: false)
        let resumed = try cli.dploy("rollout", "resume", "group/web", in: lab)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Rollout group/web resumed"))
        #expect(try SQLiteStore(path: lab.appendingPathComponent("state/dploy.db").path, readOnly: true).rolloutResumes().keys.sorted() == ["group/web"])
    }

    @Test("a plan-only config refuses to apply and changes nothing")
    func planOnly() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let config = lab.appendingPathComponent("dploy.yaml")
        let text = try String(contentsOf: config, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "mode: apply", with: "mode: plan-only").utf8).write(to: config)
        let run = try cli.dploy("apply", "--auto-approve", in: lab)
        #expect(run.status == 1)
        #expect(run.stderr.contains("says mode: plan-only: dploy plans but changes nothing; nothing was applied"))
        #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent("out").path))
    }

    @Test("a boot file edited by hand between two applies is restored by the second, whatever the apply cache kept")
    func handEditBetweenApplies() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        #expect(try cli.dploy("apply", "--auto-approve", "--no-color", in: lab).status == 0)
        // The second apply changes nothing and keeps that plan in the cache; the third reuses it.
        for _ in 0..<2 {
            let quiet = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
            #expect(quiet.stdout.hasSuffix("No changes. The fleet's boot and DHCP files match the desired state, and no task run is pending.\n"))
        }
        #expect(FileManager.default.fileExists(atPath: lab.appendingPathComponent("state/apply-cache").path))

        // Same size, same inode, different bytes: only the stamp's times say so.
        let script = lab.appendingPathComponent("out/http/ipxe/94-18-82-3a-5c-10.ipxe")
        var bytes = Array(try Data(contentsOf: script))
        let original = bytes
        bytes[bytes.count - 2] = UInt8(ascii: "X")
        let handle = try FileHandle(forWritingTo: script)
        try handle.write(contentsOf: Data(bytes))
        try handle.close()

        let restore = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(restore.stdout.hasSuffix("Apply complete: 1 file written, 0 removed.\n"))
        #expect(Array(try Data(contentsOf: script)) == original)
        #expect(try cli.dploy("apply", "--auto-approve", "--no-color", in: lab).stdout.hasSuffix("no task run is pending.\n"))
    }

    @Test("an apply cache that does not check is ignored with a warning, and the apply does the full work")
    func corruptApplyCache() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        #expect(try cli.dploy("apply", "--auto-approve", "--no-color", in: lab).status == 0)
        let cache = lab.appendingPathComponent("state/apply-cache")
        var bytes = Array(try Data(contentsOf: cache))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: cache)
        try FileManager.default.removeItem(at: lab.appendingPathComponent("out/http/ipxe/94-18-82-3a-5c-10.ipxe"))

        let apply = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stderr.contains("ignoring the apply cache state/apply-cache: its checksum does not match: it was cut short or changed; this apply reads every output file and plans the whole fleet"))
        #expect(apply.stdout.hasSuffix("Apply complete: 1 file written, 0 removed.\n"))
        let next = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(!next.stderr.contains("ignoring the apply cache"), "the cache was written anew")
    }

    @Test("plan exits 2 with changes pending, apply converges, then plan exits 0")
    func planApplyPlan() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let plan = try cli.dploy("plan", "--no-color", in: lab)
        #expect(plan.status == 2, "\(plan.stderr)")
        #expect(plan.stdout.hasPrefix("dploy plan  ·  source .\n"))
        #expect(plan.stdout.contains("  + web-02    new machine: DHCP reservation 198.18.0.22; installs debian-12 generation 1 at its next network boot"))
        #expect(plan.stdout.hasSuffix("Plan: 8 to add, 0 to change, 0 to remove.\n"))
        // Planning reads: no callback key, store or output is made until something applies.
        for written in ["state", "out"] {
            #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent(written).path), "dploy plan made \(written)/")
        }

        let refused = try cli.dploy("apply", in: lab)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing to apply without confirmation: stdin is not a terminal; use --auto-approve"))
        #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent("out/http/boot.ipxe").path))

        let apply = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.hasSuffix("Apply complete: 26 files written, 0 removed.\n"))
        #expect(FileManager.default.fileExists(atPath: lab.appendingPathComponent("state/callback.key").path),
                "apply makes the callback key its installers' tokens are signed with")

        let after = try cli.dploy("plan", "--no-color", in: lab)
        #expect(after.status == 0)
        #expect(after.stdout.hasSuffix("No changes. The fleet's boot and DHCP files match the desired state, and no task run is pending.\n"))
    }

    @Test("apply runs a pending task once; dploy tasks shows its run; the next plan owes nothing")
    func taskRunsOnce() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        try Data("""
            apiVersion: dploy.org/v1
            kind: Task
            metadata: {name: forget-spare-01}
            spec:
              targets: {machines: [spare-01]}
              rediscover: true
            """.utf8).write(to: lab.appendingPathComponent("forget.yaml"))
        // Rediscovery boots the forgotten machine into discovery: the config must have one.
        let config = lab.appendingPathComponent("dploy.yaml")
        try Data((try String(contentsOf: config, encoding: .utf8)
                  + "discovery: {kernel: \"http://198.18.0.1:8080/d/vmlinuz\", initrd: \"http://198.18.0.1:8080/d/initrd.img\"}\n").utf8)
            .write(to: config)
        let pending = try cli.dploy("tasks", in: lab)
        #expect(pending.status == 0, "\(pending.stderr)")
        #expect(pending.stdout.contains("forget-spare-01 @"))
        #expect(pending.stdout.contains("  pending 1\n  spare-01      pending\n"))

        let apply = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(apply.status == 0, "\(apply.stderr)")
        #expect(apply.stdout.contains("Plan: 8 to add, 0 to change, 0 to remove. 1 task run pending.\n"))
        #expect(apply.stdout.contains(": succeeded\n") && apply.stdout.contains("task forget-spare-01 @"))

        let json = try cli.dploy("tasks", "forget-spare-01", "--json", in: lab)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let runs = try #require(rows.first?["runs"] as? [[String: Any]])
        #expect(runs.count == 1 && runs[0]["machine"] as? String == "spare-01" && runs[0]["state"] as? String == "succeeded")

        let after = try cli.dploy("plan", "--no-color", in: lab)
        #expect(after.status == 0, "\(after.stdout)")
        let unknown = try cli.dploy("tasks", "no-such-task", in: lab)
        #expect(unknown.status == 1 && unknown.stderr == "error: no task 'no-such-task' in git or in the store\n")
    }

    @Test("dploy jobs lists BMC jobs, as text and JSON; retry queues a failed one again with what it skipped, once")
    func jobsCommand() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        #expect(try cli.dploy("jobs", in: lab).stdout == "No BMC job is queued or running (--all shows finished ones).\n")
        #expect(try cli.dploy("apply", "--auto-approve", "--no-color", in: lab).status == 0)
        let store = try SQLiteStore(path: lab.appendingPathComponent("state/dploy.db").path)
        func job(_ step: String) -> BMCJob {
            BMCJob(machine: "web-01", mac: MACAddress("94:18:82:3a:5c:10"), kind: .firmware, step: step, payload: "{}", createdAt: Date())
        }
        let rom = try #require(try store.enqueueBMCJob(job("firmware System ROM U32 v2.90")))
        let ilo = try #require(try store.enqueueBMCJob(job("firmware iLO 5 3.08")))
        _ = try store.claimBMCJob(site: "default", at: Date())
        _ = try store.updateBMCJob(rom.id, BMCJobUpdate(status: "Writing", percent: 40))

        let listed = try cli.dploy("jobs", in: lab)
        #expect(listed.status == 0)
        #expect(listed.stdout == "job \(ilo.id) web-01 firmware iLO 5 3.08: queued\njob \(rom.id) web-01 firmware System ROM U32 v2.90: in progress, 40 % (Writing)\n")
        let json = try cli.dploy("jobs", "--json", "--machine", "web-01", in: lab)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 2 && rows.last?["percent"] as? Int == 40 && rows.last?["state"] as? String == "running")

        let refused = try cli.dploy("jobs", "retry", String(rom.id), in: lab)
        #expect(refused.status == 1 && refused.stderr.contains("no failed or skipped BMC job \(rom.id)"), "a running job is not retried")
        _ = try store.finishBMCJob(rom.id, .failed, error: "Error (UpdateFailedFlashError)", at: Date())
        let retried = try cli.dploy("jobs", "retry", String(rom.id), in: lab)
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stdout.contains("web-01 firmware System ROM U32 v2.90") && retried.stdout.contains("web-01 firmware iLO 5 3.08"),
                "with the job its failure skipped: \(retried.stdout)")
        #expect(try cli.dploy("jobs", "retry", String(rom.id), in: lab).stdout == "Nothing queued: the same steps are already queued or running.\n")
        let all = try cli.dploy("jobs", "--all", in: lab).stdout
        #expect(all.contains("job \(rom.id) web-01 firmware System ROM U32 v2.90: failed: Error (UpdateFailedFlashError)"), "\(all)")
        #expect(all.contains("job \(ilo.id) web-01 firmware iLO 5 3.08: skipped: not run: job \(rom.id)"))
    }

    @Test("a saved plan applies while nothing changed, and is refused once the specs change")
    func savedPlan() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        #expect(try cli.dploy("plan", "--out", "first.plan", in: lab).status == 2)
        #expect(try cli.dploy("plan", "--out", "same.plan", in: lab).status == 2)
        // Settings are part of a plan too: a reload command added after saving makes it stale.
        let config = lab.appendingPathComponent("dploy.yaml")
        let original = try String(contentsOf: config, encoding: .utf8)
        try Data(original.replacingOccurrences(of: "config: out/dhcp/dploy.conf}", with: "config: out/dhcp/dploy.conf, reload: \"true\"}").utf8)
            .write(to: config)
        let changedSettings = try cli.dploy("apply", "same.plan", in: lab)
        #expect(changedSettings.status == 1)
        #expect(changedSettings.stderr.contains("the saved plan is stale"))
        try Data(original.utf8).write(to: config)
        let json = try cli.dploy("plan", "--json", in: lab)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["machines"] as? [Any])?.count == 8)

        // The specs move on: web-03 gets a new generation.
        let rack = lab.appendingPathComponent("machines/rack-r1.yaml")
        let text = try String(contentsOf: rack, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "kernelArgs: nomodeset", with: "kernelArgs: nomodeset\n  generation: 4").utf8).write(to: rack)
        let stale = try cli.dploy("apply", "first.plan", in: lab)
        #expect(stale.status == 1)
        #expect(stale.stderr.contains("the saved plan is stale"))
        #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent("out").path))

        #expect(try cli.dploy("plan", "--out", "second.plan", in: lab).status == 2)
        let applied = try cli.dploy("apply", "second.plan", in: lab)
        #expect(applied.status == 0, "\(applied.stderr)")
        let script = try String(contentsOf: lab.appendingPathComponent("out/http/ipxe/94-18-82-3a-5d-0b.ipxe"), encoding: .utf8)
        #expect(script.contains("generation 4"))
    }

    @Test("a store an older dploy wrote: plan says what migrates it, and apply does")
    func applyMigratesAnOlderStore() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let store = lab.appendingPathComponent("state/dploy.db").path
        try SQLiteStore(path: store).recordSeen(try #require(MACAddress("94:18:82:3a:5c:10")), address: "198.18.0.21", at: Date())
        // Back to the schema of the dploy before v4, as an upgrade finds it.
        _ = try run(Tool.python3.require(), ["-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("ALTER TABLE hardware DROP COLUMN changes")
            db.execute("ALTER TABLE bmcReading DROP COLUMN firmware")
            db.execute("DELETE FROM grdb_migrations WHERE identifier LIKE 'v4:%'")
            db.commit()
            """, store])
        let refused = try cli.dploy("plan", in: lab)
        #expect(refused.status == 1 && refused.stderr.contains("it is from an older dploy; dploy apply, or the daemon when it starts, migrates it"),
                "\(refused.stderr)")
        let migrated = try cli.dploy("apply", "--auto-approve", in: lab)
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(try cli.dploy("plan", in: lab).status == 0, "migrated, and nothing to change")
        #expect(try cli.dploy("machines", in: lab).status == 0)
    }

    @Test("a BIOS attribute web-01's stored BIOS reading does not list: plan and validate --config fail at its line with a suggestion; fixed, plan works",
          .requiresHPEMockups)
    func biosCheckedAgainstTheStore() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        let rack = lab.appendingPathComponent("machines/rack-r1.yaml")
        let specs = try String(contentsOf: rack, encoding: .utf8)
        try Data(specs.replacingOccurrences(of: "  hostname: web-01.lab.example.net\n",
                                            with: "  hostname: web-01.lab.example.net\n  bios: {attributes: {ProcHyperThreading: Disabled}}\n").utf8)
            .write(to: rack)
        // No store yet: nothing to check against, and validate creates none.
        #expect(try cli.dploy("validate", "--config", "dploy.yaml", in: lab).status == 0)
        #expect(!FileManager.default.fileExists(atPath: lab.appendingPathComponent("state/dploy.db").path), "validate created no store")

        // web-01's BIOS as the daemon's BMC watch stores it: HPE's recorded DL380a Gen11.
        let attributes = try HPEMockups.biosAttributes(HPEMockups.dl380aGen11)
        try SQLiteStore(path: lab.appendingPathComponent("state/dploy.db").path).recordBMCReadings([BMCRecord(
            mac: try #require(MACAddress("94:18:82:3a:5c:10")), readAt: Date(), power: "On",
            biosAttributes: BIOSAttributeTypes(names: Set(attributes.keys), current: attributes, pending: attributes))])
        // Line 22 is the one added above; column 23 is the name in it.
        let error = "machines/rack-r1.yaml:22:23: error: machine 'web-01': 'bios.attributes.ProcHyperThreading': the BIOS does not list "
            + "an attribute 'ProcHyperThreading'; check its name (BIOS attribute names are case-sensitive); did you mean 'ProcHyperthreading'?"
        let plan = try cli.dploy("plan", "--no-color", in: lab)
        #expect(plan.status == 1 && plan.stderr.contains(error) && plan.stderr.contains("the specs are invalid; nothing was planned"),
                "\(plan.stderr)")
        let apply = try cli.dploy("apply", "--auto-approve", "--no-color", in: lab)
        #expect(apply.status == 1 && apply.stderr.contains(error), "\(apply.stderr)")
        let validate = try cli.dploy("validate", "--config", "dploy.yaml", in: lab)
        #expect(validate.status == 1 && validate.stderr.contains(error) && validate.stderr.contains("1 error in"), "\(validate.stderr)")
        #expect(try cli.dploy("validate", ".", in: lab).status == 0, "without --config: the spec language alone, which knows no BIOS")

        // Fixed as the suggestion says: the specs load, and the plan shows the lab's changes.
        try Data(try String(contentsOf: rack, encoding: .utf8).replacingOccurrences(of: "ProcHyperThreading", with: "ProcHyperthreading").utf8)
            .write(to: rack)
        let fixed = try cli.dploy("plan", "--no-color", in: lab)
        #expect(fixed.status == 2, "\(fixed.stderr)")
        #expect(try cli.dploy("validate", "--config", "dploy.yaml", in: lab).status == 0)
    }

    @Test("invalid specs: plan exits 1 and names the problem")
    func invalidSpecs() throws {
        let lab = try labCopy()
        defer { try? FileManager.default.removeItem(at: lab) }
        try Data("apiVersion: dploy.org/v1\nkind: Machine\n".utf8).write(to: lab.appendingPathComponent("machines/half.yaml"))
        let plan = try cli.dploy("plan", in: lab)
        #expect(plan.status == 1)
        #expect(plan.stderr.contains("machines/half.yaml:1:1: error: missing required field 'metadata'"))
        #expect(plan.stderr.contains("the specs are invalid; nothing was planned"))
    }
}
