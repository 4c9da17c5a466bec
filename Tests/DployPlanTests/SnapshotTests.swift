import DployApply
import DployController
import DployPlan
import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// A site whose `dploy serve` answers the boot configs (server.listen, tftp.listen) gets no
/// per-machine boot file on disk: nothing would read it.
@Suite("Boot files dploy serves itself are not written", .ownThread)
struct SnapshotTests {
    /// The lab served by dploy over HTTP and TFTP, `output.snapshots` unset.
    static let served = LabCopy.config(snapshots: nil, extra: "tftp: {listen: \"127.0.0.1:0\"}")

    func files(under folder: String, of lab: LabCopy) -> [String] {
        ((try? FileManager.default.subpathsOfDirectory(atPath: lab.path(folder))) ?? []).filter {
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: lab.path("\(folder)/\($0)"), isDirectory: &isFolder) && !isFolder.boolValue
        }.sorted()
    }

    @Test("apply writes the installers, DHCP and the entry script, no iPXE, pxelinux or GRUB config of a machine; the next plan is quiet")
    func nothingServedIsWritten() throws {
        let lab = try LabCopy(config: Self.served)
        let reconciler = try lab.reconciler()
        let plan = try reconciler.plan()
        let web01 = try #require(plan.plan.machines.first { $0.machine == "web-01" })
        #expect(web01.change == .add)
        #expect(web01.actions.map(\.path) == [OutputPath(.http, "installers/web-01/preseed.cfg")])
        _ = try reconciler.apply(plan)

        #expect(files(under: "out/http", of: lab).allSatisfy { $0 == "boot.ipxe" || $0.hasPrefix("installers/") },
                "\(files(under: "out/http", of: lab))")
        #expect(files(under: "out/http", of: lab).contains("installers/web-01/preseed.cfg"))
        #expect(files(under: "out/tftp", of: lab).isEmpty, "\(files(under: "out/tftp", of: lab))")
        #expect(try lab.read("out/dhcp/dploy.hosts").contains("94:18:82:3a:5c:10"))
        let again = try reconciler.plan()
        #expect(!again.plan.hasChanges, "\(again.plan.machines)")
    }

    @Test("once dploy serves them, each machine's plan removes its old boot files, prune off; no machine is new or removed")
    func oldSnapshotsAreRemoved() throws {
        let lab = try LabCopy(config: LabCopy.config())
        _ = try lab.reconciler().apply(try lab.reconciler().plan())
        #expect(FileManager.default.fileExists(atPath: lab.path("out/http/ipxe/94-18-82-3a-5c-10.ipxe")))

        try lab.write("dploy.yaml", Self.served)
        // Rack r2 leaves git in the same change: its files are orphans, which prune (off) keeps.
        try FileManager.default.removeItem(atPath: lab.path("machines/rack-r2.yaml"))
        try lab.write("groups.yaml", try lab.read("groups.yaml").replacingOccurrences(of: "members: [web-04, db-03]", with: "members: [web-04]"))
        let reconciler = try lab.reconciler()
        let plan = try reconciler.plan()
        let web01 = try #require(plan.plan.machines.first { $0.machine == "web-01" })
        #expect(web01.change == .change)
        let removed = web01.actions.filter { $0.kind == .removeFile }.map(\.path)
        #expect(removed == [OutputPath(.http, "ipxe/94-18-82-3a-5c-10.ipxe"), OutputPath(.tftp, "pxelinux.cfg/01-94-18-82-3a-5c-10")])
        #expect(plan.plan.machines.allSatisfy { $0.change == .change } && plan.plan.machines.count == 4,
                "\(plan.plan.machines.map { ($0.machine, $0.change) })")
        #expect(plan.plan.notes == [Reason(.pruneDisabled, "4 machines removed from git keep their boot files (prune is off): db-01, db-02, db-03, spare-01")])
        #expect(!plan.plan.actions.contains { $0.needsBMC })
        _ = try reconciler.apply(plan)

        #expect(files(under: "out/tftp", of: lab) == ["pxelinux.cfg/01-94-18-82-3a-5e-f1", "pxelinux.cfg/01-94-18-82-6e-21-a0",
                                                      "pxelinux.cfg/01-94-18-82-6e-21-b4", "pxelinux.cfg/01-94-18-82-c4-1f-3d"],
                "only rack r2's, kept by prune off")
        #expect(!FileManager.default.fileExists(atPath: lab.path("out/http/ipxe/94-18-82-3a-5c-10.ipxe")))
        #expect(FileManager.default.fileExists(atPath: lab.path("out/http/installers/web-01/preseed.cfg")))
        #expect(!(try reconciler.plan().plan.hasChanges))
    }

    @Test("an installed machine that owns no file on disk still reinstalls on a generation bump, and is not taken for a new one")
    func installedMachineOwningNothingReinstalls() throws {
        let lab = try LabCopy(config: Self.served)
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        var observed = try reconciler.observe()
        // web-02 installed generation 0 and its installer answer is gone: without snapshots it owns nothing.
        observed.installedGenerations[try #require(MACAddress("94:18:82:3a:5c:2e"))] = 0
        observed.files = observed.files.filter { !$0.key.path.hasPrefix("installers/web-02/") }
        let result = try Planner.plan(desired: reconciler.loadDesired(), observed: observed, settings: reconciler.settings)
        let web = try #require(result.plan.machines.first { $0.machine == "web-02" })
        #expect(web.change == .change)
        #expect(web.reasons.first == Reason(.generationBehind, "reinstall: generation 0 → 1 (profile debian-12)"), "\(web.reasons)")
        #expect(web.actions.map(\.kind) == [.writeFile, .bootOnceFromNetwork, .power])
    }
}
