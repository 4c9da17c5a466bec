import DployApply
import DployConfig
import DployController
import DployInventory
@testable import DployPlan
import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("Apply converges, and only ever as far as it should", .ownThread)
struct ApplyTests {
    @Test("an apply right after an apply plans nothing and rewrites nothing")
    func idempotent() throws {
        let lab = try LabCopy(config: LabCopy.config(extraDHCP: ", reload: \"touch reloaded\""))
        let reconciler = try lab.reconciler()
        let first = try reconciler.plan()
        #expect(first.plan.summary == "Plan: 8 to add, 0 to change, 0 to remove.")
        let report = try reconciler.apply(first)
        #expect(report.written.count == first.plan.actions.count { $0.kind == .writeFile || $0.kind == .writeDHCPConfig })
        #expect(report.reloaded)
        let stamps = try lab.outputStamps()
        try FileManager.default.removeItem(atPath: FileManager.default.currentDirectoryPath + "/reloaded")

        let second = try reconciler.plan()
        #expect(!second.plan.hasChanges)
        #expect(second.plan.actions.isEmpty)
        let again = try reconciler.apply(second)
        #expect(again.written.isEmpty && again.removed.isEmpty && !again.reloaded)
        #expect(try lab.outputStamps() == stamps, "same bytes, same mtimes")
    }

    @Test("a machine whose profile boots GRUB gets GRUB's first config, its own config and its DHCP tag; once")
    func grubLoader() throws {
        let lab = try LabCopy(config: LabCopy.config(extra: "tftp: {listen: \"127.0.0.1:0\"}"))
        let profile = try lab.read("profiles/debian-12.yaml")
        try lab.write("profiles/debian-12.yaml", profile.replacingOccurrences(of: "loader: ipxe", with: "loader: grub"))
        let reconciler = try lab.reconciler()
        let plan = try reconciler.plan().plan
        let entry = try #require(plan.shared.first { $0.path == BootPaths.grubEntry })
        #expect(entry.reason.code == .grubEntry)
        #expect(plan.actions.contains { $0.path == BootPaths.grub(MACAddress("94:18:82:3a:5c:10")!) }, "web-01's own config")
        _ = try reconciler.apply(try reconciler.plan())
        #expect(try lab.read("out/tftp/grub/grub.cfg").contains("configfile (http,198.18.0.1:8080)/grub/grub.cfg-01-$net_default_mac"))
        #expect(try lab.read("out/dhcp/dploy.hosts").contains("94:18:82:3a:5c:10,198.18.0.21,web-01"))
        #expect(try lab.read("out/dhcp/dploy.conf").contains("dhcp-mac=set:grub,94:18:82:3a:5c:10\n"))
        #expect(!(try reconciler.plan().plan.hasChanges), "written once, then converged")
        #expect(!plan.notes.contains { $0.code == .loaderNotServed }, "dploy serves GRUB here")
    }

    @Test("without dploy's TFTP server, DHCP hands every machine iPXE, as before: an upgrade breaks no pxelinux or GRUB site")
    func loadersNeedTFTP() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let profile = try lab.read("profiles/debian-12.yaml")
        try lab.write("profiles/debian-12.yaml", profile.replacingOccurrences(of: "loader: ipxe", with: "loader: grub"))
        let reconciler = try lab.reconciler()
        let plan = try reconciler.plan().plan
        #expect(!plan.shared.contains { $0.path == BootPaths.grubEntry })
        let note = try #require(plan.notes.first { $0.code == .loaderNotServed }, "the plan says why GRUB is not handed out")
        #expect(note.message.contains("profiles boot pxelinux or GRUB, but dploy serves no TFTP (tftp.listen is not set)"))
        #expect(note.message.contains("web-01 (grub)"))
        #expect(plan.text(color: false).contains("note: \(note.message)"), "dploy plan prints it")
        _ = try reconciler.apply(try reconciler.plan())
        #expect(try lab.read("out/dhcp/dploy.hosts").contains("94:18:82:3a:5c:10,198.18.0.21,web-01"), "no loader tag")
        #expect(!(try reconciler.plan().plan.hasChanges), "a note is no change: the run converges")
    }

    @Test("the loader note names at most ten machines, then counts the rest")
    func loaderNoteIsShort() {
        let machines = (1...12).map { String(format: "m-%02d (grub)", $0) }
        let note = Planner.loaderNotServed(machines.reversed())
        #expect(note.message.hasPrefix("12 machines' profiles boot pxelinux or GRUB"))
        #expect(note.message.hasSuffix(": m-01 (grub), m-02 (grub), m-03 (grub), m-04 (grub), m-05 (grub), m-06 (grub), "
            + "m-07 (grub), m-08 (grub), m-09 (grub), m-10 (grub) and 2 more"))
        #expect(Planner.loaderNotServed(["a (pxelinux)"]).message.hasPrefix("1 machine's profile boots"))
    }

    @Test("a DHCP reload that fails is owed: the next plan reloads although the files match")
    func failedReloadIsRetried() throws {
        let lab = try LabCopy(config: LabCopy.config(extraDHCP: ", reload: \"test -e reload-works\""))
        let reconciler = try lab.reconciler()
        #expect(throws: ApplyError.self) { try reconciler.apply(try reconciler.plan()) }
        let owed = try reconciler.plan()
        let reload = try #require(owed.plan.shared.first { $0.kind == .reloadDHCP })
        #expect(reload.reason == Reason(.dhcpReloadOwed, "the last reload did not finish; the server may run the old configuration"))
        #expect(!owed.plan.shared.contains { $0.kind == .writeDHCPConfig }, "the files themselves are in place")

        _ = FileManager.default.createFile(atPath: FileManager.default.currentDirectoryPath + "/reload-works", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: FileManager.default.currentDirectoryPath + "/reload-works") }
        #expect(try reconciler.apply(owed).reloaded)
        #expect(try !reconciler.plan().plan.shared.contains { $0.kind == .reloadDHCP }, "paid: nothing owed")
    }

    @Test("files an operator puts beside dploy's are never removed, prune or not")
    func foreignFilesStay() throws {
        let lab = try LabCopy(config: LabCopy.config(prune: "{enabled: true, maxRemovals: 50}"))
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        try lab.write("out/http/installers/web-01/late.sh", "#!/bin/sh\necho mine\n")
        try lab.write("out/tftp/pxelinux.cfg/default", "DEFAULT local\n")
        try lab.write("out/http/ipxe/menu.ipxe", "#!ipxe\nexit\n")
        let plan = try reconciler.plan()
        #expect(!plan.plan.hasChanges, "\(plan.plan.actions)")
        _ = try reconciler.apply(plan)
        #expect(FileManager.default.fileExists(atPath: lab.path("out/http/installers/web-01/late.sh")))
        #expect(FileManager.default.fileExists(atPath: lab.path("out/tftp/pxelinux.cfg/default")))
        #expect(FileManager.default.fileExists(atPath: lab.path("out/http/ipxe/menu.ipxe")))
    }

    @Test("an apply killed halfway converges on the next run")
    func convergesAfterInterruption() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        // What a crash midway leaves: some files missing, one half-written.
        try FileManager.default.removeItem(atPath: lab.path("out/http/ipxe/94-18-82-3a-5c-10.ipxe"))
        try FileManager.default.removeItem(atPath: lab.path("out/dhcp/dploy.hosts"))
        try lab.write("out/tftp/pxelinux.cfg/01-94-18-82-6e-21-a0", "DEFAULT dpl")

        let plan = try reconciler.plan()
        let touched = Set(plan.plan.actions.compactMap(\.path?.description))
        #expect(touched == ["http/ipxe/94-18-82-3a-5c-10.ipxe", "dhcp/dploy.hosts", "tftp/pxelinux.cfg/01-94-18-82-6e-21-a0"])
        #expect(plan.plan.toAdd == 0)
        #expect(plan.plan.machines.map(\.machine) == ["db-01", "web-01"])
        _ = try reconciler.apply(plan)
        #expect(!(try reconciler.plan().plan.hasChanges))
    }

    @Test("machines removed from git keep their files unless prune is on, and prune stops at maxRemovals")
    func prune() throws {
        let lab = try LabCopy(config: LabCopy.config())
        _ = try lab.reconciler().apply(try lab.reconciler().plan())
        // Remove rack r2 (db-01, db-02, db-03, spare-01) from git.
        try FileManager.default.removeItem(atPath: lab.path("machines/rack-r2.yaml"))
        try lab.write("groups.yaml", try lab.read("groups.yaml").replacingOccurrences(of: "members: [web-04, db-03]", with: "members: [web-04]"))
        try lab.write("tasks/capture-db-01-2026-11.yaml", "")

        let kept = try lab.reconciler().plan()
        #expect(kept.plan.toRemove == 0)
        #expect(kept.plan.notes == [Reason(.pruneDisabled, "4 machines removed from git keep their boot files (prune is off): db-01, db-02, db-03, spare-01")])
        #expect(!kept.plan.actions.contains { $0.kind == .removeFile })
        #expect(!kept.plan.actions.contains { $0.needsBMC }, "removal never powers off or wipes")

        try lab.write("dploy.yaml", LabCopy.config(prune: "{enabled: true, maxRemovals: 3}"))
        let pruning = try lab.reconciler()
        let plan = try pruning.plan()
        #expect(plan.plan.toRemove == 3)
        #expect(plan.plan.notes == [Reason(.removalsHeldBack, "1 more removal held back by prune.maxRemovals (3): spare-01")])
        #expect(!plan.plan.actions.contains { $0.needsBMC })
        let report = try pruning.apply(plan)
        #expect(report.removed.contains(OutputPath(.http, "installers/db-01/ks.cfg")))
        #expect(!FileManager.default.fileExists(atPath: lab.path("out/http/installers/db-01")), "its folder goes too")
        #expect(!FileManager.default.fileExists(atPath: lab.path("out/http/installers/db-03/ks.cfg")))
        #expect(FileManager.default.fileExists(atPath: lab.path("out/http/ipxe/94-18-82-3a-5e-f1.ipxe")), "spare-01 waits")

        let rest = try pruning.plan()
        #expect(rest.plan.toRemove == 1)
        _ = try pruning.apply(rest)
        #expect(!(try pruning.plan().plan.hasChanges))
    }

    @Test("a broken template stops the plan, and the files already written stay as they are")
    func brokenTemplate() throws {
        let lab = try LabCopy(config: LabCopy.config())
        _ = try lab.reconciler().apply(try lab.reconciler().plan())
        let stamps = try lab.outputStamps()
        let preseed = try lab.read("templates/debian-12.preseed.mustache")
        try lab.write("templates/debian-12.preseed.mustache", preseed + "\n{{#disk}}\nunclosed section\n")
        try lab.write("machines/rack-r1.yaml", try lab.read("machines/rack-r1.yaml")
            .replacingOccurrences(of: "generation: 1", with: "generation: 2"))
        #expect(throws: PlanError.self) { try lab.reconciler().plan() }
        do { _ = try lab.reconciler().plan() } catch let error as PlanError {
            #expect(error.description.hasPrefix("templates/debian-12.preseed.mustache:"))
        }
        #expect(try lab.outputStamps() == stamps)
    }

    @Test("a reinstall of an installed machine plans a BMC boot once and power cycle; apply refuses BMC steps until the client exists")
    func reinstallNeedsBMC() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        let web02 = try #require(MACAddress("94:18:82:3a:5c:2e"))
        observed.installedGenerations[web02] = 0
        observed.power[try #require(MACAddress("94:18:82:3a:5c:10"))] = .off
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        let web = try #require(result.plan.machines.first { $0.machine == "web-02" })
        #expect(web.change == .change)
        #expect(web.reasons == [Reason(.generationBehind, "reinstall: generation 0 → 1 (profile debian-12)")])
        #expect(web.actions.map(\.kind) == [.bootOnceFromNetwork, .power])
        let drift = try #require(result.plan.machines.first { $0.machine == "web-01" })
        #expect(drift.reasons == [Reason(.powerDrift, "power drift: observed off, desired on")])

        let stamps = try lab.outputStamps()
        #expect(throws: ApplyError.needsBMC(["web-01", "web-02"])) { try reconciler.apply(result) }
        #expect(try lab.outputStamps() == stamps)
    }
}

@Suite("The daemon's caches never hide a change", .ownThread)
struct CacheTests {
    @Test("a boot file edited in place, even to the same size, is seen and rewritten")
    func inPlaceEdit() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let config = try ControllerConfig.load(path: lab.path("dploy.yaml")).get()
        let daemon = Reconciler(config: config, configPath: lab.path("dploy.yaml"), keepingCaches: true)
        try daemon.makeCallbackKey()
        let desired = try daemon.loadDesired()
        _ = try daemon.apply(try daemon.plan(desired: desired))
        #expect(!(try daemon.plan(desired: desired).plan.hasChanges))

        try lab.editInPlace("out/http/ipxe/94-18-82-3a-5c-10.ipxe")

        let plan = try daemon.plan(desired: desired)
        #expect(plan.plan.actions.map { $0.path?.description } == ["http/ipxe/94-18-82-3a-5c-10.ipxe"])
        _ = try daemon.apply(plan)
        #expect(!(try daemon.plan(desired: desired).plan.hasChanges))
    }

    @Test("a changed group default re-renders every member, a changed machine only itself")
    func renderCacheInvalidation() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let config = try ControllerConfig.load(path: lab.path("dploy.yaml")).get()
        let daemon = Reconciler(config: config, configPath: lab.path("dploy.yaml"), keepingCaches: true)
        try daemon.makeCallbackKey()
        _ = try daemon.apply(try daemon.plan(desired: daemon.loadDesired()))

        try lab.write("machines/rack-r1.yaml", try lab.read("machines/rack-r1.yaml")
            .replacingOccurrences(of: "kernelArgs: nomodeset", with: "kernelArgs: nomodeset quiet"))
        let one = try daemon.plan(desired: daemon.loadDesired())
        #expect(one.plan.machines.map(\.machine) == ["web-03"])
        _ = try daemon.apply(one)

        try lab.write("groups.yaml", try lab.read("groups.yaml").replacingOccurrences(of: "disk: /dev/sda\n    bmc:\n      # Only",
                                                                                      with: "disk: /dev/sdb\n    bmc:\n      # Only"))
        let group = try daemon.plan(desired: daemon.loadDesired())
        #expect(group.plan.machines.map(\.machine) == ["web-01", "web-02", "web-03", "web-04"])
    }
}

@Suite("Plans read observed state from the store", .ownThread)
struct StoreObservationTests {
    @Test("an installed generation below the desired one plans a reinstall; a discovered stranger is named, not touched")
    func fromStore() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        let store = try #require(try reconciler.openStore(creating: true))
        let web02 = try #require(MACAddress("94:18:82:3a:5c:2e"))
        let now = Date()
        try store.installStarted(web02, generation: 0, at: now)
        try store.installFinished(web02, generation: 0, at: now)
        let stranger = try #require(MACAddress("94:18:82:99:00:01"))
        try store.recordHardware(stranger, .init(vendor: "HPE", model: "ProLiant DL380 Gen10", cpus: 2), at: now)

        let plan = try reconciler.plan().plan
        let web = try #require(plan.machines.first { $0.machine == "web-02" })
        #expect(web.reasons == [Reason(.generationBehind, "reinstall: generation 0 → 1 (profile debian-12)")])
        // Its install script is already in place (written when it was new); only the BMC steps remain.
        #expect(web.actions.map(\.kind) == [.bootOnceFromNetwork, .power])
        #expect(plan.notes == [Reason(.discoveredNotInGit, "discovered, not in git: 94:18:82:99:00:01 (HPE ProLiant DL380 Gen10); dploy leaves it alone until a Machine document names it")])
        #expect(!plan.machines.contains { $0.machine.contains("94-18-82-99") })
    }

    @Test("a machine in its installer is not power-cycled; a failed generation boots from disk, not again and again")
    func installingAndFailed() throws {
        let lab = try LabCopy(config: LabCopy.config())
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        let store = try #require(try reconciler.openStore(creating: true))
        let web02 = try #require(MACAddress("94:18:82:3a:5c:2e"))
        let web03 = try #require(MACAddress("94:18:82:3a:5d:0b"))
        let now = Date()
        try store.installStarted(web02, generation: 0, at: now)
        try store.installFinished(web02, generation: 0, at: now)
        try store.installStarted(web02, generation: 1, at: now)          // now installing 1, as desired
        try store.installStarted(web03, generation: 0, at: now)
        try store.installFailed(web03, generation: 0, reason: "no callback", at: now)

        let plan = try reconciler.plan().plan
        #expect(!plan.machines.contains { $0.machine == "web-02" }, "\(plan.machines)")
        let web = try #require(plan.machines.first { $0.machine == "web-03" })
        #expect(web.reasons == [Reason(.installFailed, "the install of generation 0 failed; boots its local disk until the generation changes")])
        #expect(!web.actions.contains { $0.needsBMC })
        #expect(web.actions.contains { $0.path?.path == "installers/web-03/preseed.cfg" && $0.kind == .removeFile })
        let result = try reconciler.plan()
        let script = try #require(result.desiredFiles[OutputPath(.http, "ipxe/94-18-82-3a-5d-0b.ipxe")])
        #expect(String(decoding: script, as: UTF8.self).contains("boots its local disk"))
    }

    @Test("a store that is not dploy's, or is broken, is refused by name and left as it was")
    func foreignStore() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try FileManager.default.createDirectory(atPath: lab.path("state"), withIntermediateDirectories: true)
        for (contents, reason) in [(Data(), "it has no dploy schema"), (Data("not a database at all".utf8), "cannot be used")] {
            try contents.write(to: URL(fileURLWithPath: lab.path("state/dploy.db")))
            do {
                _ = try lab.reconciler().plan()
                Issue.record("a foreign store must be refused")
            } catch let error as StoreError {
                #expect(error.description.contains(lab.path("state/dploy.db")))
                #expect(error.description.contains(reason), "\(error)")
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: lab.path("state/dploy.db"))) == contents, "left as it was")
        }
    }
}
