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
    /// - Parameter cache: its `observation` must be this reconciler's `observationCache`.
    /// - Returns: the plan, and the desired state it was made from (nil when the quiet plan
    ///   was reused, which changes nothing and needs none).
    public func planOnce(cache: ApplyCache) throws -> (result: PlanResult, desired: DesiredState?) {
        precondition(observationCache === cache.observation, "plan with the cache's observation")
        cache.racyFrom = ApplyCache.racyFrom()
        let differences = cache.observation.differencesFound
        let observed = try observe()
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
        let result = try plan(desired: desired, observed: observed, fingerprint: false)
        let templatePaths = desired.templates.keys.sorted()
        cache.quiet = result.plan.hasChanges ? nil : inputs.digest(templatePaths: templatePaths).map {
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
    func digest(templatePaths: [String]) -> ContentDigest? {
        guard let observedDigest = observed.planInputDigest else { return nil }
        var hasher = ContentHasher()
        func add(_ label: String, _ bytes: [UInt8]?) {
            // Length-prefixed, so no two sequences of parts hash alike by shifting a boundary.
            let body = bytes ?? []
            hasher.update(ArraySlice(Array("\(label) \(bytes == nil ? -1 : body.count)\n".utf8)))
            hasher.update(ArraySlice(body))
        }
        func file(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }
        // This dploy itself: another build may plan differently from the same inputs.
        add("program", Self.programIdentity)
        add("config", Array(reconciler.configPath.utf8))
        add("config file", file(reconciler.configPath))
        add("callback key", file(reconciler.callbackKeyFile.path))
        // Secrets decide which specs are valid (CredentialRules).
        if let secrets = reconciler.config.secrets {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: secrets))?.sorted() ?? []
            add("secrets", Array("\(names.count)".utf8))
            for name in names {
                add("secret name", Array(name.utf8))
                add("secret", file(secrets + "/" + name))
            }
        }
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
            add("template", read(path))
        }
        add("observed", observedDigest.bytes)
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
