import DployApply
import DployPlan
import DploySpec
import Foundation

/// A one-shot `dploy apply` with the `ApplyCache` it keeps between runs: what the daemon
/// does with memory, done with a file.
extension Reconciler {
    /// Where a one-shot apply keeps its cache.
    public var applyCachePath: String { config.stateDirectory + "/apply-cache" }

    /// Observes (every file stat-ed, only the changed read) and plans, reusing the cache's
    /// last quiet plan when nothing it was made from changed (a folder source only: a git
    /// source is fetched and checked every run). Updates the cache's quiet plan for the
    /// caller to save once the plan is applied, or when it changes nothing.
    /// - Parameter cache: its `observation` must be this reconciler's `observationCache`, and
    ///   its `renders` this reconciler's `renderCache` when it has one.
    /// - Returns: the plan, and the desired state it was made from (nil when the quiet plan
    ///   was reused, which changes nothing and needs none).
    public func planOnce(cache: ApplyCache) throws -> (result: PlanResult, desired: DesiredState?) {
        precondition(observationCache === cache.observation, "plan with the cache's observation")
        cache.racyFrom = ApplyCache.racyFrom()
        let differences = cache.observation.differencesFound
        // What the settings were when this run began: a plan or render made from them is
        // never filed under settings saved while it ran.
        let settingsAtStart = RenderKeys.settingsDigest(self)
        var observed = try observe()
        // Every file as the cache held it: the files are those its quiet plan was made
        // against (or matched since), without hashing forty thousand entries to say so.
        let filesAsCached = cache.observation.differencesFound == differences
        guard case .folder(let folder) = config.source else {
            cache.quiet = nil
            let desired = try loadDesired()
            return (try plan(desired: desired, observed: observed, fingerprint: false), desired)
        }
        let tree = try SpecDirectory(root: folder, protecting: protectedPaths).readTree()
        let inputs = QuietKey(reconciler: self, folder: folder, tree: tree, observed: observed)
        if let quiet = cache.quiet, inputs.digest(templatePaths: quiet.templatePaths) == quiet.key,
           filesAsCached || observed.filesDigest == quiet.files {
            // Nothing to write back when nothing was read anew.
            cache.matchesFile = filesAsCached
            return (PlanResult(plan: quiet.plan, desiredFiles: FileContents()), nil)
        }
        let desired = try loadFolder(folder, tree: tree)
        observed.now = observedTime(for: desired.fleet)
        let unchangedSinceStart = { RenderKeys.settingsDigest(self) == settingsAtStart }
        if let renderCache {
            precondition(renderCache === cache.renders, "plan with the cache's renders")
            cache.loadRenders()
            renderCache.inputKeys = unchangedSinceStart() ? RenderKeys.of(tree: tree, desired: desired, reconciler: self) : [:]
        }
        let result = try plan(desired: desired, observed: observed, fingerprint: false)
        let templatePaths = desired.templates.keys.sorted()
        let key = QuietKey(reconciler: self, folder: folder, tree: tree, observed: observed)
            .digest(templatePaths: templatePaths, templates: desired.templates)
        cache.quiet = result.plan.hasChanges || !unchangedSinceStart() ? nil : key.map {
            ApplyCache.QuietMemo(key: $0, files: observed.filesDigest, templatePaths: templatePaths, plan: result.plan)
        }
        return (result, desired)
    }
}

/// Everything a folder source's plan is made from, hashed: the planner is a pure function of
/// these, so equal digests mean an equal plan.
struct QuietKey {
    let reconciler: Reconciler
    let folder: String
    let tree: SpecTree
    let observed: ObservedState

    /// Nil when part of it cannot be hashed the same in every process (BMC readings). The
    /// output files are left to `ObservedState.filesDigest`, which the cache often need not compute.
    /// - Parameter templates: the template texts the plan was made from; without them, the
    ///   templates are read from the folder (to check a kept plan against what is there now).
    func digest(templatePaths: [String], templates: [String: String]? = nil) -> ContentDigest? {
        guard let observedDigest = observed.planInputDigest else { return nil }
        var hasher = ContentHasher()
        func add(_ label: String, _ bytes: [UInt8]?) { hasher.add(label, bytes) }
        add("config", Array(reconciler.configPath.utf8))
        // This dploy, its config, the callback key, and the secrets (they decide which specs
        // are valid, CredentialRules): another build may plan differently from the same inputs.
        add("settings", RenderKeys.settingsDigest(reconciler).bytes)
        add("folder", Array(folder.utf8))
        add("spec files", Array("\(tree.files.count)".utf8))
        for spec in tree.files {
            add("spec path", Array(spec.path.utf8))
            add("spec", spec.contents)
        }
        add("known paths", Array(tree.knownPaths.sorted().joined(separator: "\n").utf8))
        add("refused paths", Array(tree.refusedPaths.sorted { $0.key < $1.key }.map { "\($0.key)\t\($0.value)" }
            .joined(separator: "\n").utf8))
        let read = reconciler.folderTemplateReader(folder)
        add("templates", Array("\(templatePaths.count)".utf8))
        for path in templatePaths {
            add("template path", Array(path.utf8))
            add("template", templates.map { $0[path].map { Array($0.utf8) } } ?? read(path))
        }
        add("observed", observedDigest.bytes)
        // The BIOS readings the specs are checked against: a plan kept from a load they would
        // now refuse is not reused.
        let bios = reconciler.knownBIOS.current
        for mac in bios.keys.sorted(by: { $0.description < $1.description }) {
            add("bios", Array("\(mac)\n\(bios[mac]!.text)".utf8))
        }
        return hasher.finalize()
    }

    /// The running executable's path, device, inode, size and modification time: a rebuilt
    /// or upgraded dploy differs.
    static let programIdentity: [UInt8] = {
        var status = stat()
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        guard stat(path, &status) == 0 else { return Array("unknown \(UUID())".utf8) }
        return Array("\(path) \(status.st_dev) \(status.st_ino) \(status.st_size) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec)".utf8)
    }()
}

/// Each machine's render key for a folder source (`RenderCache.inputKeys`): a digest of its
/// own spec file and of everything any render reads besides (every spec file holding a
/// group, profile, firmware baseline or task, the templates, the config, the callback key,
/// this dploy). Whole files, not documents: a machine is rendered again when anything in
/// its rack file changed, which costs forty renders, not a wrong file.
enum RenderKeys {
    /// The program, the config file, the callback key and the secrets folder, hashed: what
    /// a run compares at its end with its start, to keep nothing made from settings that
    /// changed while it ran.
    static func settingsDigest(_ reconciler: Reconciler) -> ContentDigest {
        var hasher = ContentHasher()
        func file(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }
        hasher.add("program", QuietKey.programIdentity)
        hasher.add("config file", file(reconciler.configPath))
        hasher.add("callback key", file(reconciler.callbackKeyFile.path))
        if let secrets = reconciler.config.secrets {
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: secrets)) ?? []).sorted() {
                hasher.add("secret name", Array(name.utf8))
                hasher.add("secret", file(secrets + "/" + name))
            }
        }
        return hasher.finalize()
    }

    static func of(tree: SpecTree, desired: DesiredState, reconciler: Reconciler) -> [String: ContentDigest] {
        let fleet = desired.fleet
        let files = Dictionary(tree.files.map { ($0.path, $0.contents) }) { first, _ in first }
        var sharedFiles = Set(fleet.groups.map(\.metadata.location.file))
        sharedFiles.formUnion(fleet.profiles.map(\.metadata.location.file))
        sharedFiles.formUnion(fleet.firmwareBaselines.map(\.metadata.location.file))
        sharedFiles.formUnion(fleet.tasks.map(\.metadata.location.file))
        var shared = ContentHasher()
        func add(_ hasher: inout ContentHasher, _ label: String, _ bytes: [UInt8]?) { hasher.add(label, bytes) }
        add(&shared, "program", QuietKey.programIdentity)
        add(&shared, "config", Array(reconciler.configPath.utf8))
        add(&shared, "config file", FileManager.default.contents(atPath: reconciler.configPath).map(Array.init))
        add(&shared, "callback key", FileManager.default.contents(atPath: reconciler.callbackKeyFile.path).map(Array.init))
        for path in sharedFiles.sorted() {
            add(&shared, "spec path", Array(path.utf8))
            add(&shared, "spec", files[path])
        }
        for (path, text) in desired.templates.sorted(by: { $0.key < $1.key }) {
            add(&shared, "template path", Array(path.utf8))
            add(&shared, "template", Array(text.utf8))
        }
        let sharedDigest = shared.finalize().bytes
        var fileDigests: [String: [UInt8]] = [:]
        var keys: [String: ContentDigest] = [:]
        keys.reserveCapacity(fleet.machines.count)
        for machine in fleet.machines {
            let file = machine.metadata.location.file
            // A machine not found in a file of the tree gets no key: rendered afresh, never guessed.
            guard let contents = files[file] else { continue }
            if fileDigests[file] == nil { fileDigests[file] = ContentDigest(contents).bytes }
            var hasher = ContentHasher()
            add(&hasher, "shared", sharedDigest)
            add(&hasher, "file", Array(file.utf8))
            add(&hasher, "file digest", fileDigests[file])
            add(&hasher, "machine", Array(machine.name.utf8))
            keys[machine.name] = hasher.finalize()
        }
        return keys
    }
}

extension ContentHasher {
    /// Feeds one labelled part: its label and length, then its bytes (nil, for a file that is
    /// not there, hashes apart from empty). Length-prefixed, so no two sequences of parts hash
    /// alike by shifting a boundary.
    mutating func add(_ label: String, _ bytes: [UInt8]?) {
        let body = bytes ?? []
        update(ArraySlice(Array("\(label) \(bytes == nil ? -1 : body.count)\n".utf8)))
        update(ArraySlice(body))
    }
}
