@testable import DployApply
import DployConfig
@testable import DployController
import DployPlan
import DployTestSupport
import Foundation
import Testing

/// The one-shot apply's cache (`ApplyCache`): what it keeps must never hide a change.
@Suite("The apply cache never hides a change", .ownThread)
struct ApplyCacheTests {
    /// One `dploy apply`, as the command runs it: the cache read, a plan, the apply, the cache written.
    /// Returns the plan and whether the kept quiet plan was reused.
    @discardableResult
    func applyOnce(_ lab: LabCopy, trustingCache: Bool = true) throws -> (plan: Plan, reused: Bool) {
        let base = try lab.reconciler()
        let cache = ApplyCache(path: base.applyCachePath)
        #expect((cache.problem == nil) == trustingCache, "\(cache.problem ?? "")")
        let reconciler = Reconciler(config: base.config, configPath: base.configPath, observationCache: cache.observation,
                                    renderCache: cache.renders)
        let (result, desired) = try reconciler.planOnce(cache: cache)
        if result.plan.hasChanges { _ = try reconciler.apply(result) }
        try cache.save()
        return (result.plan, desired == nil)
    }

    @Test("a quiet apply is reused until a spec, a template or an output file changes")
    func quietPlanReuse() throws {
        let lab = try LabCopy(config: LabCopy.config())
        #expect(try applyOnce(lab).plan.hasChanges)
        #expect(try !applyOnce(lab).reused, "the first quiet run plans, and keeps its plan")
        let reused = try applyOnce(lab)
        #expect(reused.reused && !reused.plan.hasChanges)

        try lab.write("machines/rack-r1.yaml", try lab.read("machines/rack-r1.yaml")
            .replacingOccurrences(of: "kernelArgs: nomodeset", with: "kernelArgs: nomodeset quiet"))
        let spec = try applyOnce(lab)
        #expect(!spec.reused && spec.plan.machines.map(\.machine) == ["web-03"])

        #expect(try !applyOnce(lab).reused)
        #expect(try applyOnce(lab).reused)
        let template = try #require(try FileManager.default.contentsOfDirectory(atPath: lab.path("templates")).sorted().first)
        try lab.write("templates/" + template, try lab.read("templates/" + template) + "# edited\n")
        let edited = try applyOnce(lab)
        #expect(!edited.reused && edited.plan.hasChanges, "a template the quiet plan read was edited")

        #expect(try !applyOnce(lab).reused)
        #expect(try applyOnce(lab).reused)
        try FileManager.default.removeItem(atPath: lab.path("out/http/ipxe/94-18-82-3a-5c-10.ipxe"))
        let removed = try applyOnce(lab)
        #expect(!removed.reused && removed.plan.actions.map { $0.path?.description } == ["http/ipxe/94-18-82-3a-5c-10.ipxe"])
        #expect(try !applyOnce(lab).plan.hasChanges)

        // A whole managed folder gone: no file in it is there to be stat-ed.
        #expect(try applyOnce(lab).reused)
        try FileManager.default.removeItem(atPath: lab.path("out/tftp/pxelinux.cfg"))
        let folder = try applyOnce(lab)
        #expect(!folder.reused && folder.plan.hasChanges)
        #expect(try !applyOnce(lab).plan.hasChanges)
    }

    @Test("renders kept by an earlier apply are reused only for machines whose inputs are unchanged")
    func persistedRenders() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try applyOnce(lab)
        try applyOnce(lab)
        let path = try lab.reconciler().applyCachePath
        let kept = ApplyCache(path: path)
        kept.loadRenders()
        #expect(kept.renders.persisted.count == 8, "every machine's render is kept")

        try lab.write("machines/rack-r1.yaml", try lab.read("machines/rack-r1.yaml")
            .replacingOccurrences(of: "kernelArgs: nomodeset", with: "kernelArgs: nomodeset quiet"))
        let one = try applyOnce(lab)
        #expect(one.plan.machines.map(\.machine) == ["web-03"])
        #expect(try !applyOnce(lab).plan.hasChanges)

        try lab.write("groups.yaml", try lab.read("groups.yaml").replacingOccurrences(of: "disk: /dev/sda\n    bmc:\n      # Only",
                                                                                      with: "disk: /dev/sdb\n    bmc:\n      # Only"))
        let group = try applyOnce(lab)
        #expect(group.plan.machines.map(\.machine) == ["web-01", "web-02", "web-03", "web-04"])
        #expect(try !applyOnce(lab).plan.hasChanges)
        // What the cache's renders say is what a plan without any cache says.
        #expect(try !lab.reconciler().plan().plan.hasChanges)
    }

    @Test("a boot file edited in place between one-shot applies is read again and restored")
    func inPlaceEdit() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try applyOnce(lab)
        try applyOnce(lab)
        #expect(try applyOnce(lab).reused)
        try lab.editInPlace("out/http/ipxe/94-18-82-3a-5c-10.ipxe")

        let restore = try applyOnce(lab)
        #expect(restore.plan.actions.map { $0.path?.description } == ["http/ipxe/94-18-82-3a-5c-10.ipxe"])
        #expect(try !applyOnce(lab).plan.hasChanges)
    }

    @Test("a cache cut short, changed, of another format or not a cache at all is ignored, and says why")
    func untrustedCache() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try applyOnce(lab)
        try applyOnce(lab)
        let path = try lab.reconciler().applyCachePath
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(ApplyCache(path: path).quiet != nil)

        var flipped = good
        flipped[good.count / 2] ^= 0x01
        var otherFormat = good
        otherFormat[ApplyCache.magic.count] = 2
        let cases: [(bytes: [UInt8], problem: String)] = [
            (Array(good.prefix(good.count - 5)), "its checksum does not match: it was cut short or changed"),
            (Array(good.prefix(ApplyCache.magic.count + 4)), "it ends early"),
            (flipped, "its checksum does not match: it was cut short or changed"),
            (otherFormat, "it is format 2, this dploy reads format 1"),
            (Array("not a cache".utf8), "it is not an apply cache"),
            ([], "it is not an apply cache"),
        ]
        for (bytes, problem) in cases {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let cache = ApplyCache(path: path)
            #expect(cache.problem == "ignoring the apply cache \(path): \(problem); this apply reads every output file and plans the whole fleet")
            #expect(cache.quiet == nil && cache.observation.folders.isEmpty)
        }
        // Ignored, then written anew by the next apply.
        try applyOnce(lab, trustingCache: false)
        #expect(ApplyCache(path: path).problem == nil)
    }

    @Test("files and folders changed within the racy window are kept as never seen")
    func racyEntries() throws {
        let lab = try LabCopy(config: LabCopy.config())
        try applyOnce(lab)
        let cache = ObservationCache()
        let folders = try lab.reconciler().folders
        _ = try ObservedFiles.read(folders, dhcpFileNames: ["dploy.conf"], cache: cache)

        // Everything changed at or after the start of time: nothing is trusted.
        let all = try ObservationCache(persisted: cache.persisted(racyFrom: .min))
        #expect(!all.folders.isEmpty)
        #expect(all.folders.values.allSatisfy { $0.stamp == .never && $0.children.allSatisfy { $0.seen == nil } })
        #expect(all.singles.isEmpty)

        // Nothing changed at or after the end of time: everything is kept.
        let none = try ObservationCache(persisted: cache.persisted(racyFrom: .max))
        #expect(none.folders.count == cache.folders.count)
        #expect(none.folders.values.allSatisfy { $0.stamp != .never && $0.children.allSatisfy { $0.isFolder || $0.seen != nil } })
        #expect(none.singles.count == cache.singles.count && !none.singles.isEmpty)
        let reread = try ObservedFiles.read(folders, dhcpFileNames: ["dploy.conf"], cache: none)
        #expect(reread == (try ObservedFiles.read(folders, dhcpFileNames: ["dploy.conf"], cache: ObservationCache())))

        // Settled once old enough: what still holds its stamp and bytes is kept; a file edited
        // since the observation is forgotten, to be read again.
        let script = lab.path("out/http/ipxe/94-18-82-3a-5c-10.ipxe")
        try Data("#!ipxe\nexit\n".utf8).write(to: URL(fileURLWithPath: script))
        let settled = cache.settle(racyFrom: .min, now: .max)
        #expect(settled == .max - 1_000_000_000)
        let kept = try ObservationCache(persisted: cache.persisted(racyFrom: settled))
        let ipxe = try #require(kept.folders[lab.path("out/http/ipxe")])
        #expect(ipxe.children.filter { $0.seen == nil }.map(\.name) == ["94-18-82-3a-5c-10.ipxe"])
        #expect(ipxe.children.count > 1 && kept.singles.count == cache.singles.count)
    }
}
