import DployInventory
@testable import DployPlan
import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Incremental planning against the full plan it stands for: the bench's generated fleet
/// (bench/generate.py, a few hundred machines) goes through a seeded sequence of random
/// commits (machines added, removed, edited, relabelled; groups, profiles, templates and
/// baselines edited) and random changes of what is observed (files applied or not, edited
/// by hand, generations installed, BMC readings and jobs). After each, the plan made by a
/// planner that keeps its outcomes between plans must equal, action for action and byte
/// for byte, a plan made from nothing.
///
/// A failure names the seed and the step: `DPLOY_PLAN_SEED=N swift test --filter
/// IncrementalPlan` replays one seed.
@Suite("Incremental planning equals the full plan", .ownThread)
struct IncrementalPlanTests {
    static let seeds: [UInt64] = ProcessInfo.processInfo.environment["DPLOY_PLAN_SEED"].flatMap(UInt64.init).map { [$0] }
        ?? [1, 2, 3]

    @Test("random commits and observations: the kept plan equals the full one after each", .requires(Tool.python3),
          arguments: [DHCPBackend.dnsmasq, .isc, .kea])
    func randomCommits(backend: DHCPBackend) throws {
        for seed in Self.seeds {
            var fleet = try GeneratedFleet(machines: 200)
            var random = SeededRandom(seed: seed &+ UInt64(DHCPBackend.allCases.firstIndex(of: backend)!) << 32)
            let settings = PlanSettings(server: BootServer(url: "http://198.18.0.1:8080", callbackKey: CallbackKey(bytes: Array(repeating: 7, count: 32))),
                                        dhcp: .init(backend: backend, fileName: "dploy.conf", folder: "/srv/dhcp"),
                                        reloadCommand: "true", prune: true, servesLoaders: true)
            let kept = RenderCache()
            var observed = ObservedState()
            var replanned: [Int] = []
            for step in 0..<30 {
                let change = step == 0 ? "the first plan" : fleet.commit(&random)
                observed = fleet.observe(observed, &random)
                let desired = try fleet.desired()
                let full = try Planner.plan(desired: desired, observed: observed, settings: settings)
                let incremental = try Planner.plan(desired: desired, observed: observed, settings: settings, cache: kept)
                replanned.append(kept.machinesPlanned)
                let context = "seed \(seed), \(backend.rawValue), step \(step) (\(change))"
                #expect(incremental.plan == full.plan, "\(context): \(Self.firstDifference(incremental.plan, full.plan))")
                #expect(incremental.desiredFiles == full.desiredFiles, "\(context): the files to write differ")
                guard incremental.plan == full.plan, incremental.desiredFiles == full.desiredFiles else { return }
                // The settings kept per machine (what the daemon's condition counts read instead
                // of resolving) are what resolving gives now.
                let resolver = DefaultsResolver(groups: desired.fleet.groups)
                let stale = desired.fleet.machines.filter { machine in
                    let fresh = resolver.resolve(machine)
                    guard let known = kept.effective(of: machine) else { return true }
                    return known.machine != fresh.machine || known.groups != fresh.groups || known.settings != fresh.settings
                }
                #expect(stale.isEmpty, "\(context): settings kept that resolving no longer gives: \(stale.prefix(5).map(\.name))")
                // Applied most of the time; a plan-only run leaves the files as they were.
                if random.chance(0.7) { observed.apply(full) }
            }
            // Most commits touch one machine or one document of a few: far fewer machines
            // than the fleet's were worked out again.
            print("seed \(seed), \(backend.rawValue): machines planned per step \(replanned)")
            #expect(replanned.dropFirst().reduce(0, +) < (replanned.count - 1) * fleet.machineCount / 2,
                    "seed \(seed): machines planned per step \(replanned)")
        }
    }

    @Test("a group edit re-plans its members, a template edit the machines whose profile uses it, a machine edit itself",
          .requires(Tool.python3))
    func dependencyEdges() throws {
        // 40 machines: roles in turn web, db, cache, batch; db installs rocky-9, the rest debian-12.
        var fleet = try GeneratedFleet(machines: 40)
        let settings = PlanSettings(server: BootServer(url: "http://198.18.0.1:8080"),
                                    dhcp: .init(backend: .dnsmasq, fileName: "dploy.conf", folder: "/srv/dhcp"))
        let kept = RenderCache()
        var observed = ObservedState()
        /// Plans and applies; then plans again, which finds nothing to do and works out again
        /// only the machines whose files the apply wrote (what is observed of them changed).
        func plan() throws -> (result: PlanResult, planned: Int) {
            let desired = try fleet.desired()
            let result = try Planner.plan(desired: desired, observed: observed, settings: settings, cache: kept)
            let planned = kept.machinesPlanned
            #expect(result.plan == (try Planner.plan(desired: desired, observed: observed, settings: settings)).plan)
            observed.apply(result)
            let settled = try Planner.plan(desired: desired, observed: observed, settings: settings, cache: kept)
            // (The generated fleet's tasks stay owed: nothing here runs them.)
            #expect(settled.plan.machines.isEmpty && settled.plan.shared.isEmpty, "\(settled.plan.text(color: false))")
            #expect(try Planner.plan(desired: desired, observed: observed, settings: settings, cache: kept).plan == settled.plan)
            #expect(kept.machinesPlanned == 0, "nothing changed since the plan before")
            return (result, planned)
        }
        #expect(try plan().planned == 40)

        fleet.files["shared.yaml"]![0] = fleet.files["shared.yaml"]![0].replacing("disk: /dev/sda", with: "disk: /dev/sdb")
        #expect(try plan().planned == 10, "group web's members")

        fleet.editTemplate("rocky-9", line: "# edited")
        #expect(try plan().planned == 10, "the db machines, whose profile rocky-9 names the template")

        fleet.files["machines/rack-r000.yaml"]![7] = fleet.files["machines/rack-r000.yaml"]![7]
            .replacing("ip: 198.18.0.7", with: "ip: 198.18.9.7")
        let one = try plan()
        #expect(one.planned == 1)
        #expect(one.result.plan.shared.map(\.path?.path) == ["dploy.hosts"], "the hosts file, rebuilt from every machine's entry")

        // Observed state plans too: a machine whose boot file an operator removed is planned again, alone.
        let mac = try #require(try fleet.desired().fleet.machine(named: "node-00003")).mac.value
        observed.files[BootPaths.ipxeScript(mac)] = nil
        let restored = try plan()
        #expect(restored.planned == 1)
        #expect(restored.result.plan.machines.map(\.machine) == ["node-00003"])
    }

    /// Where two plans first differ, for the failure message.
    static func firstDifference(_ a: Plan, _ b: Plan) -> String {
        for (x, y) in zip(a.machines, b.machines) where x != y { return "incremental \(x) vs full \(y)" }
        if a.machines.count != b.machines.count {
            return "machines \(a.machines.map(\.machine)) vs \(b.machines.map(\.machine))"
        }
        if a.shared != b.shared { return "shared \(a.shared) vs \(b.shared)" }
        if a.notes != b.notes { return "notes \(a.notes) vs \(b.notes)" }
        return a == b ? "equal" : "tasks or header"
    }
}

/// splitmix64: the same sequence for the same seed, on every machine.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
}

/// The bench's fleet in a temporary folder, and commits made to it as an operator would:
/// YAML documents edited, added and removed.
struct GeneratedFleet {
    let root: URL
    /// Each file's documents, by path relative to the root.
    var files: [String: [String]] = [:]
    var templates: [String: String] = [:]
    /// Numbers for new machines, addresses and edits, never reused.
    var counter = 0
    var machineCount: Int { files.filter { $0.key.hasPrefix("machines/") }.values.reduce(0) { $0 + $1.count } }

    init(machines: Int) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-incremental-\(UUID().uuidString)")
        try run(try Tool.python3.require(), [repositoryRoot.appendingPathComponent("bench/generate.py").path,
                                              "--machines", "\(machines)", "--out", root.path])
        for path in try FileManager.default.subpathsOfDirectory(atPath: root.path).sorted() where path.hasSuffix(".yaml") {
            files[path] = try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8).components(separatedBy: "---\n")
        }
        for name in ["debian-12", "rocky-9"] {
            templates[name] = try String(contentsOf: root.appendingPathComponent("templates/\(name).mustache"), encoding: .utf8)
        }
        // BIOS settings from a group: a BIOS step's reason names the group's line.
        files["shared.yaml"]![0] = files["shared.yaml"]![0].replacing("disk: /dev/sda,", with: "disk: /dev/sda, bios: {attributes: {WorkloadProfile: Virtualization}},")
        // A group with a higher priority over one rack, whose edits move machines in and out.
        files["special.yaml"] = [Self.special(rack: "r001", kernelArgs: "quiet", priority: 10)]
    }

    static func special(rack: String, kernelArgs: String, priority: Int, members: [String] = []) -> String {
        "apiVersion: dploy.org/v1\nkind: Group\nmetadata: {name: special}\nspec:\n  selector: {rack: \(rack)}\n"
            + (members.isEmpty ? "" : "  members: [\(members.joined(separator: ", "))]\n")
            + "  priority: \(priority)\n  defaults: {kernelArgs: \"\(kernelArgs)\", generation: 3, bios: {attributes: {WorkloadProfile: Virtualization}}}\n"
    }

    /// Loads the desired state as `dploy plan` would from a folder: every spec file through
    /// the real loader, the profiles' templates read.
    func desired() throws -> DesiredState {
        let files = self.files.sorted { $0.key < $1.key }.map { SpecFile(path: $0.key, contents: Array($0.value.joined(separator: "---\n").utf8)) }
        let result = SpecLoader().load(files)
        guard result.isValid else { throw ToolFailure(message: result.diagnostics.map(\.description).joined(separator: "\n")) }
        let texts = Dictionary(uniqueKeysWithValues: templates.map { ("templates/\($0.key).mustache", $0.value) })
        return DesiredState(fleet: result.fleet, templates: texts, source: root.path)
    }

    mutating func editTemplate(_ name: String, line: String) { templates[name, default: ""] += line + "\n" }

    private var rackFiles: [String] { files.keys.filter { $0.hasPrefix("machines/") }.sorted() }

    /// One random commit; returns what it did.
    mutating func commit(_ random: inout SeededRandom) -> String {
        counter += 1
        let racks = rackFiles
        let rack = racks.randomElement(using: &random)!
        let kind = Int.random(in: 0..<100, using: &random)
        func editMachine(_ edit: (String) -> String) -> String {
            guard !files[rack]!.isEmpty else { return "nothing (an empty rack)" }
            let index = Int.random(in: 0..<files[rack]!.count, using: &random)
            files[rack]![index] = edit(files[rack]![index])
            return "\(rack) document \(index)"
        }
        func replaceLine(_ doc: String, prefix: String, with line: String?) -> String {
            var lines = doc.components(separatedBy: "\n").filter { !$0.hasPrefix(prefix) }
            if let line { lines.insert(line, at: lines.count - 1) }
            return lines.joined(separator: "\n")
        }
        let roles = ["web", "db", "cache", "batch"]
        switch kind {
        case 0..<15:
            return "a machine's ip: " + editMachine { replaceLine($0, prefix: "  ip:", with: "  ip: 198.18.\(100 + self.counter / 250).\(self.counter % 250)") }
        case 15..<25:
            let generation = Int.random(in: 0...3, using: &random)
            return "a machine's generation \(generation): " + editMachine { replaceLine($0, prefix: "  generation:", with: "  generation: \(generation)") }
        case 25..<32:
            let role = roles.randomElement(using: &random)!
            return "a machine's role \(role): " + editMachine { doc in
                doc.replacing(/role: [a-z]+/, with: "role: \(role)")
            }
        case 32..<37:
            let target = racks.randomElement(using: &random)!.dropFirst("machines/rack-".count).dropLast(".yaml".count)
            return "a machine's rack label \(target): " + editMachine { $0.replacing(/rack: r[0-9]+/, with: "rack: \(target)") }
        case 37..<42:
            let args: String? = random.chance(0.5) ? nil : "  kernelArgs: \"edit-\(counter)\""
            return "a machine's kernelArgs: " + editMachine { replaceLine($0, prefix: "  kernelArgs:", with: args) }
        case 42..<52:
            let n = 90000 + counter
            let mac = String(format: "94:18:82:ff:%02x:%02x", (n >> 8) & 255, n & 255)
            let bmc = random.chance(0.7) ? "  bmc: {address: \"https://198.19.200.\(counter % 250)\"}\n" : ""
            let doc = "apiVersion: dploy.org/v1\nkind: Machine\nmetadata:\n  name: node-\(n)\n"
                + "  labels: {role: \(roles.randomElement(using: &random)!), rack: r00\(Int.random(in: 0..<5, using: &random))}\n"
                + "spec:\n  mac: \"\(mac)\"\n  ip: 198.18.\(100 + counter / 250).\(counter % 250)\n\(bmc)"
            // At the top of its file sometimes: every document after it moves down.
            let at = random.chance(0.3) ? 0 : files[rack]!.count
            files[rack]!.insert(doc, at: at)
            return "machine node-\(n) added to \(rack) at \(at)"
        case 52..<60:
            guard !files[rack]!.isEmpty else { return "nothing (an empty rack)" }
            let index = Int.random(in: 0..<files[rack]!.count, using: &random)
            files[rack]!.remove(at: index)
            return "machine \(index) of \(rack) removed"
        case 60..<67:
            let group = Int.random(in: 0..<4, using: &random)
            let disk = random.chance(0.5) ? "/dev/sda" : "/dev/sdb\(counter)"
            files["shared.yaml"]![group] = files["shared.yaml"]![group].replacing(/disk: [^,]+/, with: "disk: \(disk)")
            return "group \(roles[group]) disk \(disk)"
        case 67..<75:
            let rack = "r00\(Int.random(in: 0..<6, using: &random))"
            let members = random.chance(0.3) ? ["node-0000\(Int.random(in: 0..<10, using: &random))"] : []
            files["special.yaml"] = [Self.special(rack: rack, kernelArgs: random.chance(0.5) ? "quiet" : "edit-\(counter)",
                                                  priority: random.chance(0.8) ? 10 : 20, members: members)]
            return "group special over \(rack), members \(members)"
        case 75..<82:
            let profile = 4 + Int.random(in: 0..<2, using: &random)
            let loader = ["ipxe", "pxelinux", "grub"].randomElement(using: &random)!
            var doc = files["shared.yaml"]![profile].replacing(/loader: [a-z]+/, with: "loader: \(loader)")
            if random.chance(0.5) { doc = doc.replacing(/linux[-0-9]*\n    initrd:/, with: "linux-\(counter)\n    initrd:") }
            files["shared.yaml"]![profile] = doc
            return "profile \(profile) loader \(loader)"
        case 82..<89:
            let name = random.chance(0.5) ? "debian-12" : "rocky-9"
            editTemplate(name, line: "# {{hostname}} edit \(counter)")
            return "template \(name)"
        case 89..<96:
            let baseline = 6 + Int.random(in: 0..<2, using: &random)
            var doc = files["shared.yaml"]![baseline].replacing(/version: "[0-9.]+"/, with: "version: \"2.\(counter)\"")
            doc = doc.replacing(/\n  rollout:.*\n/, with: "\n")
            if random.chance(0.5) { doc += "  rollout: {canaries: 1, waves: [\"50%\", \"100%\"], maxParallel: 2}\n" }
            files["shared.yaml"]![baseline] = doc
            return "baseline \(baseline)"
        default:
            return "nothing (a commit that changes no spec)"
        }
    }

    /// What is observed changes too, a little at a time: generations installed or failed,
    /// an install under way, BMC readings (power, firmware), BMC jobs, imaging, files edited
    /// or removed by hand, strangers discovered.
    func observe(_ before: ObservedState, _ rng: inout SeededRandom) -> ObservedState {
        var observed = before
        guard let machines = try? desired().fleet.machines, !machines.isEmpty else { return observed }
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let machine = machines.randomElement(using: &rng)!
            let mac = machine.mac.value
            switch Int.random(in: 0..<12, using: &rng) {
            case 0: observed.installedGenerations[mac] = Int.random(in: 0...3, using: &rng)
            case 1: observed.failedInstalls[mac] = rng.chance(0.5) ? Int.random(in: 0...3, using: &rng) : nil
            case 2: observed.installing[mac] = rng.chance(0.5) ? Int.random(in: 0...3, using: &rng) : nil
            case 3: observed.power[mac] = rng.chance(0.5) ? .on : .off
            case 4:
                observed.firmware[mac] = ObservedFirmware(model: rng.chance(0.8) ? "ProLiant DL360 Gen10" : "ProLiant DL20",
                                                          versions: ["System ROM": rng.chance(0.5) ? "2.90" : "2.10", "iLO": "3.08"])
            case 5:
                observed.bmcJobs[machine.name] = rng.chance(0.3) ? nil : [BMCJob(
                    id: Int64(Int.random(in: 1...99, using: &rng)), machine: machine.name, mac: mac, kind: .firmware,
                    step: "firmware System ROM 2.90", payload: "{}", state: [.queued, .running, .failed, .succeeded].randomElement(using: &rng)!,
                    createdAt: Date(timeIntervalSince1970: 1_795_000_000))]
            case 6: observed.imaging[mac] = rng.chance(0.5) ? "restore" : nil
            case 7, 8, 9:
                // The BIOS as read: the groups' attribute set, pending, or not listed at all.
                let value = BIOSValue.string(rng.chance(0.5) ? "Virtualization" : "GeneralPowerEfficientCompute")
                observed.bios[mac] = ObservedBIOS(current: ["WorkloadProfile": value], names: rng.chance(0.5) ? nil : [],
                                                  pending: rng.chance(0.5) ? [:] : ["WorkloadProfile": value])
            case 10:
                // An operator edits or removes one of its boot files.
                let path = BootPaths.ipxeScript(mac)
                if observed.files[path] != nil {
                    observed.files[path] = rng.chance(0.5) ? nil : ObservedFile(contents: Array("# dploy: \(machine.name) (\(mac))\nedited\n".utf8))
                }
            case 11:
                let stranger = MACAddress(String(format: "02:00:00:00:%02x:%02x", Int.random(in: 0...255, using: &rng), Int.random(in: 0...255, using: &rng)))!
                observed.discovered[stranger] = "HPE ProLiant DL380 Gen10"
            default:
                observed.dhcpReloadPending = rng.chance(0.5)
            }
        }
        return observed
    }
}

extension ObservedState {
    /// What an apply of `result` leaves on disk: every file written, every file removed.
    mutating func apply(_ result: PlanResult) {
        for action in result.plan.actions {
            switch action {
            case .writeFile(let path, _, _), .writeDHCPConfig(let path, _):
                if let contents = result.desiredFiles[path] { files[path] = ObservedFile(contents: Array(contents)) }
            case .removeFile(let path, _, _): files[path] = nil
            default: break
            }
        }
        dhcpReloadPending = false
    }
}
