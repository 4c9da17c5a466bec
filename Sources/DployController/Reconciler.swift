import DployApply
import DployConfig
import DployGit
import DployInventory
import DployPlan
import DployRender
import DploySpec
import Foundation
import Logging

/// One reconcile, step by step: load desired state from the source, observe, plan, apply.
/// `dploy plan` and `dploy apply` call these steps; the daemon calls them on a timer.
/// Observing and planning only read; loading a git source fetches into its cache and records
/// source status; `apply` and `makeCallbackKey` write.
public struct Reconciler: Sendable {
    public let config: ControllerConfig
    public let configPath: String
    /// What a long-lived loop keeps between runs so that a quiet fleet costs little: file
    /// contents by stat data, and renders by machine. One-shot commands keep nothing.
    public let observationCache: ObservationCache?
    public let renderCache: RenderCache?
    /// The git source with its parse caches, kept by a loop so that a commit changing one
    /// file re-parses one file; one-shot commands make a new one per load.
    private let keptGitSource: GitSource?
    /// The time of day its decisions read (imaging runs still going, task deadlines).
    public let clock: WallClock
    /// Each machine's BIOS as last read, which loading checks `bios.attributes` against.
    public let knownBIOS: KnownBIOS

    /// - Parameters:
    ///   - observationCache: for a one-shot command, the output files as a persisted cache
    ///     last saw them (`ApplyCache.observation`); ignored when `keepingCaches`.
    ///   - renderCache: likewise, renders an earlier process made (`ApplyCache.renders`).
    public init(config: ControllerConfig, configPath: String, keepingCaches: Bool = false, clock: WallClock = .system,
                observationCache: ObservationCache? = nil, renderCache: RenderCache? = nil) {
        self.config = config
        self.configPath = configPath
        self.clock = clock
        self.observationCache = keepingCaches ? ObservationCache(trust: config.outputObservation.watch ? .watched : .ownWrites)
            : observationCache
        self.renderCache = keepingCaches ? RenderCache() : renderCache
        let knownBIOS = KnownBIOS(site: config.site)
        self.knownBIOS = knownBIOS
        keptGitSource = keepingCaches ? Self.gitSource(config, knownBIOS: knownBIOS) : nil
    }

    private static func gitSource(_ config: ControllerConfig, knownBIOS: KnownBIOS) -> GitSource? {
        guard case .git(let repository, let ref, let path, let allowRewrite, let signers) = config.source else { return nil }
        let source = GitSource(
            config: GitSourceConfig(repository: repository, ref: ref, path: path, allowHistoryRewrite: allowRewrite,
                                    allowedSigners: signers),
            cacheDirectory: config.stateDirectory + "/git-cache")
        source.rules = loaderRules(config, knownBIOS: knownBIOS)
        return source
    }

    /// The controller's rules on specs, beyond the spec language's: passwords go only where
    /// their secrets allow, and BIOS attributes are ones the machine's BIOS, as last read, lists.
    /// What `dploy validate --config` adds to the spec language's checks.
    public var specRules: @Sendable (Fleet) -> [Diagnostic] { Self.loaderRules(config, knownBIOS: knownBIOS) }

    /// Fills `knownBIOS` from the store's BMC readings, for a command that reads no BMC: its
    /// loads are checked as the daemon's are. No store yet (none configured, or never
    /// created): nothing is known, and none is created.
    public func readKnownBIOS() throws {
        guard let store = try openStore(creating: false) else { return }
        try knownBIOS.read(from: store)
    }

    private static func loaderRules(_ config: ControllerConfig, knownBIOS: KnownBIOS) -> @Sendable (Fleet) -> [Diagnostic] {
        let credentials = CredentialRules(secrets: config.secrets.map(SecretStore.init(folder:)))
        return { credentials.check($0) + knownBIOS.check($0) }
    }

    /// Where source status is kept.
    public var sourceStatusPath: String { config.stateDirectory + "/source-status.json" }

    /// Where the daemon writes its status after every run (`dploy status` reads it).
    public var daemonStatusPath: String { config.stateDirectory + "/daemon-status.json" }

    /// The lock that makes one daemon (or `dploy apply`) the only writer for this store.
    public var leaderLockPath: String { config.stateDirectory + "/dploy.lock" }

    /// Who may apply to `store`: the lock file beside the SQLite store, or the lease of
    /// the shared PostgreSQL store's lease of this controller's site.
    public func leadership(for store: any Store) -> any Leadership {
        if let shared = store as? PostgresStore, let postgres = config.postgres {
            return PostgresLeaderLease(store: shared, site: config.site, leaseSeconds: Int(postgres.lease.components.seconds))
        }
        return LeaderLock(path: leaderLockPath)
    }

    /// Reads desired state: a folder as it is, or the git source's last good commit (after
    /// fetching and checking the newest one, which is recorded in source status).
    /// - Parameter recordingStatus: whether to write source status; a standby daemon reads
    ///   the source without writing what the leader keeps.
    public func loadDesired(recordingStatus: Bool = true) throws -> DesiredState {
        switch config.source {
        case .folder(let folder):
            return try loadFolder(folder, tree: try SpecDirectory(root: folder, protecting: protectedPaths).readTree())
        case .git:
            guard let source = keptGitSource ?? Self.gitSource(config, knownBIOS: knownBIOS) else { preconditionFailure("a git source") }
            let update = SourceTracker(source: source).update(try SourceStatus.read(from: sourceStatusPath))
            if recordingStatus { try update.status.write(to: sourceStatusPath) }
            guard let desired = update.desired else {
                throw ReconcileError.noGoodCommit(update.status.lastError?.message ?? "no commit has passed validation yet")
            }
            let fleet = desired.result.fleet.machines(ofSite: config.site)
            let templates = try templateTexts(fleet) { try source.file(atPath: $0, commit: desired.commit.id) }
            var label = "\(desired.commit.id.short) \"\(desired.commit.summary)\""
            if update.outcome == .rejected, let error = update.status.lastError {
                label += " (newest commit refused: \(error.message.split(separator: "\n").first ?? ""))"
            }
            return DesiredState(fleet: fleet, templates: templates, source: label, revision: desired.commit.id.hex)
        }
    }

    /// Desired state from a folder's spec tree, already read.
    func loadFolder(_ folder: String, tree: SpecTree) throws -> DesiredState {
        let result = SpecLoader(knownPaths: tree.knownPaths, refusedPaths: tree.refusedPaths,
                                rules: Self.loaderRules(config, knownBIOS: knownBIOS)).load(tree.files)
        guard result.isValid else { throw ReconcileError.invalidSpecs(result.diagnostics.map(\.description)) }
        let read = folderTemplateReader(folder)
        let fleet = result.fleet.machines(ofSite: config.site)
        let templates = try templateTexts(fleet) { read($0) }
        return DesiredState(fleet: fleet, templates: templates, source: folder)
    }

    /// Reads a template of a folder source by its path in the folder. Only what resolves
    /// inside the spec folder and outside the controller's own files, checked again as it is
    /// read: a template linked to a secret, a token or a key must never be rendered into a
    /// served file. Nil when it cannot or may not be read.
    func folderTemplateReader(_ folder: String) -> (String) -> [UInt8]? {
        let realRoot = SpecDirectory.realPath(folder) ?? folder
        let protected = SpecDirectory.resolve(protectedPaths)
        return { path in
            guard let real = SpecDirectory.realPath(folder + "/" + path), real.hasPrefix(realRoot + "/"),
                  SpecDirectory.protectedLabel(of: real, in: protected) == nil else { return nil }
            return FileManager.default.contents(atPath: real).map(Array.init)
        }
    }

    /// The controller's own files and folders. A folder source never reads a spec or a
    /// template from them, whatever its `.dployignore` says: an author who could name
    /// `state/web.token` as a template would have it served without login.
    public var protectedPaths: [ProtectedPath] {
        var paths = [ProtectedPath(config.storePath, label: "the controller's store"),
                     ProtectedPath(config.knownHostsPath, label: "the controller's SSH known_hosts file")]
        if case .folder(let folder) = config.source, let root = SpecDirectory.realPath(folder),
           let state = SpecDirectory.realPath(config.stateDirectory), root == state || root.hasPrefix(state + "/") {
            // The store sits in the spec folder or above it (`store: {sqlite: dploy.db}` beside
            // the specs): protecting its whole folder would refuse every spec, so the files the
            // controller keeps there are protected one by one instead.
            let state = config.stateDirectory
            paths += [("-wal", "store"), ("-shm", "store")].map { ProtectedPath(config.storePath + $0.0, label: "the controller's \($0.1)") }
            paths += ["callback.key", "web.token", "daemon-status.json", "source-status.json", "dploy.lock", "git-cache", "apply-cache"]
                .map { ProtectedPath(state + "/" + $0, label: "the controller's state file \($0)") }
        } else {
            paths.append(ProtectedPath(config.stateDirectory, label: "the controller's state folder"))
        }
        if let secrets = config.secrets { paths.append(ProtectedPath(secrets, label: "the controller's secrets folder")) }
        if let http = config.httpOutput { paths.append(ProtectedPath(http, label: "the controller's output folder (output.http)")) }
        if let tftp = config.tftpOutput { paths.append(ProtectedPath(tftp, label: "the controller's output folder (output.tftp)")) }
        if let dhcp = config.dhcp { paths.append(ProtectedPath(dhcp.config, label: "the controller's DHCP config")) }
        if let token = config.web.tokenFile { paths.append(ProtectedPath(token, label: "the controller's web token file")) }
        if let htpasswd = config.web.htpasswd { paths.append(ProtectedPath(htpasswd, label: "the controller's htpasswd file")) }
        if let webhook = config.webhookSecretFile { paths.append(ProtectedPath(webhook, label: "the controller's webhook secret")) }
        return paths
    }

    private func templateTexts(_ fleet: Fleet, read: (String) throws -> [UInt8]?) throws -> [String: String] {
        var texts: [String: String] = [:]
        for profile in fleet.profiles {
            guard let template = profile.installer?.template?.value, texts[template] == nil else { continue }
            guard let bytes = try read(template) else { throw ReconcileError.missingTemplate(template, profile: profile.name) }
            texts[template] = String(decoding: bytes, as: UTF8.self)
        }
        return texts
    }

    public var settings: PlanSettings {
        get throws {
            guard let url = config.serverURL else { throw ReconcileError.missingSetting("server.url") }
            return PlanSettings(
                server: BootServer(url: url, callbackKey: try callbackKey),
                dhcp: config.dhcp.map {
                    PlanSettings.DHCP(backend: $0.backend, fileName: ($0.config as NSString).lastPathComponent,
                                      folder: Self.absolute(($0.config as NSString).deletingLastPathComponent), proxyNetwork: $0.network)
                },
                reloadCommand: config.dhcp?.reload, prune: config.pruneEnabled, maxRemovals: config.maxRemovals,
                servesLoaders: config.tftp != nil,
                snapshots: PlanSettings.Snapshots(ipxe: config.writesSnapshots.ipxe, tftp: config.writesSnapshots.tftp))
        }
    }

    /// The key that signs install callbacks, `STATE/callback.key` (mode 0600).
    public var callbackKeyFile: CallbackKeyFile { CallbackKeyFile(path: config.stateDirectory + "/callback.key") }

    /// The callback key, nil until a command that writes has made it. Planning only reads
    /// it: a plan made before the key exists renders callback URLs without a token, and says
    /// "write" for every installer, as an apply with a new key would; `dploy apply` and `serve`
    /// make the key before they plan, so what they apply carries tokens.
    public var callbackKey: CallbackKey? {
        get throws { try callbackKeyFile.read() }
    }

    /// Makes the callback key when there is none: call before planning anything to apply.
    /// Every controller of a shared store must check the tokens the others hand out, so
    /// there the key is the store's: the first controller's proposal, which the rest take.
    /// A controller that already has a key (it ran on SQLite before) proposes that one, and
    /// is refused if the store holds another: its outstanding tokens would not be checked alike.
    public func makeCallbackKey() throws {
        guard config.postgres != nil else {
            try callbackKeyFile.readOrCreate()
            return
        }
        let local = try callbackKeyFile.read()
        guard let shared = try openStore(creating: true) as? PostgresStore else { return }
        let key = CallbackKey(bytes: try shared.sharedSecret("callback-key", proposing: (local ?? CallbackKey.random()).bytes))
        if let local {
            guard local.bytes == key.bytes else { throw ReconcileError.callbackKeyDiffers(callbackKeyFile.path) }
            return
        }
        try callbackKeyFile.readOrCreate { key }
    }

    /// Where a server's boot decisions and pages find the desired state in force, with the
    /// config's boot environments and install attempts. Makes the callback key first: a
    /// server checks callbacks against it from its first request.
    public func liveDesired(store: any Store) throws -> LiveDesired {
        try makeCallbackKey()
        return LiveDesired(store: store, server: try settings.server, discovery: config.discovery, imaging: config.imaging,
                    maxAttempts: config.installAttempts, attemptWindow: TimeInterval(config.attemptWindow.components.seconds),
                    maxDiscovered: config.retention.maxDiscovered)
    }

    public var folders: OutputFolders {
        get throws {
            guard let http = config.httpOutput else { throw ReconcileError.missingSetting("output.http") }
            guard let tftp = config.tftpOutput else { throw ReconcileError.missingSetting("output.tftp") }
            let dhcp = config.dhcp.map { ($0.config as NSString).deletingLastPathComponent } ?? config.stateDirectory
            return OutputFolders(http: http, tftp: tftp, dhcp: dhcp)
        }
    }

    /// - Parameter store: the store a long-lived caller keeps open; without it, the store is
    ///   opened read-only for this observation.
    public func observe(store openStore: (any Store)? = nil) throws -> ObservedState {
        let settings = try settings
        var dhcpFiles: [String] = []
        if let dhcp = settings.dhcp {
            dhcpFiles.append(dhcp.fileName)
            if dhcp.backend.isDnsmasq { dhcpFiles.append(DnsmasqFiles.hostsFileName(for: dhcp.fileName)) }
        }
        // A cache that trusts what it saw looks at every file only once per verifyInterval.
        let now = clock.now()
        let verify = observationCache.map {
            ObservationCache.verificationDue(lastVerified: $0.lastVerified, now: now, interval: config.outputObservation.verifyInterval.seconds)
        } ?? true
        var observed = ObservedState(files: try ObservedFiles.read(try folders, dhcpFileNames: dhcpFiles, cache: observationCache,
                                                                   verify: verify))
        // Only a walk that finished counts: one that failed halfway has drained the queue.
        if verify { observationCache?.lastVerified = now }
        observed.dhcpReloadPending = FileManager.default.fileExists(atPath: try folders.folder(.dhcp) + "/" + Applier.reloadPendingName)
        // The store exists once a machine has booted through dploy; until then nothing was observed.
        if let store = try openStore ?? self.openStore(creating: false) {
            observed.installedGenerations = try store.installedGenerations()
            observed.taskRuns = try store.taskRunStates()
            for run in try store.runningTaskRuns(actions: TaskActionKind.imaging, at: clock.now()) {
                if let mac = run.mac { observed.imaging[mac] = run.key.task }
            }
            observed.bmcJobs = Dictionary(grouping: try store.latestBMCJobs(), by: \.machine)
            observed.rolloutResumes = try store.rolloutResumes()
            for (mac, attempt) in try store.latestAttempts() {
                if attempt.failedAt != nil {
                    observed.failedInstalls[mac] = attempt.generation
                } else if attempt.finishedAt == nil {
                    observed.installing[mac] = attempt.generation
                }
            }
            for machine in try store.machines() where machine.state == .discovered {
                let what = [machine.hardware?.vendor, machine.hardware?.model].compactMap { $0 }.joined(separator: " ")
                observed.discovered[machine.mac] = what.isEmpty ? "no hardware report yet" : what
            }
        }
        return observed
    }

    /// The store: the embedded one at `store.sqlite`, or the shared one at `store.postgres`.
    /// With `creating: false` (plan, machines, backup) it is opened read-only, and is nil
    /// when it does not exist yet (no file; a database without dploy's tables); the daemon
    /// and `apply` open it with `creating: true`, migrating it.
    public func openStore(creating: Bool) throws -> (any Store)? {
        if let postgres = config.postgres {
            var settings = postgres.settings
            if let file = postgres.passwordFile { settings.password = try SecretFile.read(file) }
            if !creating, try !PostgresStore.hasSchema(settings) { return nil }
            return try PostgresStore(settings, readOnly: !creating)
        }
        guard creating || FileManager.default.fileExists(atPath: config.storePath) else { return nil }
        return try SQLiteStore(path: config.storePath, readOnly: !creating)
    }

    public func plan() throws -> PlanResult {
        try plan(desired: loadDesired())
    }

    /// Plans against desired state already loaded, as a loop does between source changes.
    /// A saved plan needs the fingerprint; a loop that applies at once does not.
    /// - Parameter bmc: power, firmware and BIOS read from the BMCs, when the caller read them.
    public func plan(desired: DesiredState, fingerprint: Bool = true, store: (any Store)? = nil,
                     bmc: ObservedBMCs? = nil) throws -> PlanResult {
        try plan(desired: desired, observed: observe(store: store, bmc: bmc, fleet: desired.fleet), fingerprint: fingerprint)
    }

    /// Plans against state already observed, as a loop does when it first checks whether
    /// anything it plans from changed at all.
    public func plan(desired: DesiredState, observed: ObservedState, fingerprint: Bool = true) throws -> PlanResult {
        try Planner.plan(desired: desired, observed: observed, settings: settings, cache: renderCache, fingerprint: fingerprint)
    }

    /// The time of day, to the minute, when a rollout of `fleet` has a window, and only then,
    /// so that a quiet plan stays quiet.
    func observedTime(for fleet: Fleet) -> Date? {
        guard Rollout.all(in: fleet).contains(where: { $0.policy.window != nil }) else { return nil }
        return Date(timeIntervalSince1970: (clock.now().timeIntervalSince1970 / 60).rounded(.down) * 60)
    }

    /// The observed state, with power, firmware and BIOS read from the BMCs when the caller read them.
    ///   `fleet`, when given, says whether a rollout has a window: then the time of day (to
    ///   the minute) is observed too, and only then, so that a quiet plan stays quiet.
    public func observe(store: (any Store)?,
                        bmc: ObservedBMCs?, fleet: Fleet? = nil) throws -> ObservedState {
        var observed = try observe(store: store)
        if let fleet { observed.now = observedTime(for: fleet) }
        if let bmc {
            observed.power = bmc.power
            observed.firmware = bmc.firmware
            observed.bios = bmc.bios
            observed.biosUnread = bmc.biosUnread
            observed.storage = bmc.storage
            observed.storageUnread = bmc.storageUnread
        }
        return observed
    }

    /// Applies a plan. With `fleet` (the desired state the plan was made from), BMC steps
    /// run through each machine's BMC; without it, a plan with BMC steps is refused. Firmware
    /// progress goes to `logger`, one event per firmware component to `recordEvent`.
    ///
    /// With `jobs` (the store and the runner that works its queue), BMC steps are recorded as
    /// BMC jobs and the apply returns without waiting on them.
    /// - Parameter leading: whether this dploy still leads, asked before each request that
    ///   changes a BMC (the daemon's lead can end in the middle of an apply).
    public func apply(_ result: PlanResult, fleet: Fleet? = nil, logger: Logger? = nil,
                      recordEvent: (@Sendable (MachineEvent) -> Void)? = nil,
                      jobs: (store: any Store, runner: BMCJobRunner?)? = nil,
                      leading: (@Sendable () -> Bool)? = nil) throws -> Applier.Report {
        if config.mode == .planOnly { throw ReconcileError.planOnly(configPath, "mode: plan-only") }
        if config.suspend { throw ReconcileError.planOnly(configPath, "suspend: true") }
        // Installers rendered without the key would call back with no token, be refused, and
        // reinstall until their attempts run out: refuse the plan instead.
        guard try callbackKey != nil else { throw ReconcileError.noCallbackKey(callbackKeyFile.path) }
        let check = config.dhcp.map { DHCPCheck(backend: $0.backend, command: $0.check) }
        let dhcpConfig = try settings.dhcp.map { OutputPath(.dhcp, $0.fileName) }
        let report: Applier.Report
        do {
            report = try Applier(folders: try folders, check: check, dhcpConfig: dhcpConfig)
                .apply(result, bmc: fleet.map { bmcActions(for: $0, logger: logger, recordEvent: recordEvent, leading: leading) },
                       jobs: jobs.flatMap { jobs in fleet.map { StoreJobQueue(store: jobs.store, runner: jobs.runner, fleet: $0, site: config.site, clock: clock) } })
        } catch {
            // Which files it changed before failing is not known: look at all of them next time.
            observationCache?.lastVerified = nil
            throw error
        }
        observationCache?.touched(report.written + report.removed)
        try recordApplied(revision: result.plan.revision)
        return report
    }

    /// Records the commit as the one the fleet runs: history checks compare new commits with it.
    public func recordApplied(revision: String?) throws {
        guard case .git = config.source, let revision else { return }
        var status = try SourceStatus.read(from: sourceStatusPath)
        if let good = status.lastGood, good.id.hex == revision, status.lastApplied != good {
            status.lastApplied = good
            try status.write(to: sourceStatusPath)
        }
    }

    static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}

public enum ReconcileError: Error, CustomStringConvertible {
    case invalidSpecs([String])
    case noGoodCommit(String)
    case missingTemplate(String, profile: String)
    case missingSetting(String)
    case planOnly(String, String)
    case noCallbackKey(String)
    case callbackKeyDiffers(String)

    public var description: String {
        switch self {
        case .invalidSpecs(let lines): lines.joined(separator: "\n") + "\nthe specs are invalid; nothing was planned"
        case .noGoodCommit(let reason): "no desired state in force: \(reason)"
        case .missingTemplate(let path, let profile): "profile '\(profile)': template '\(path)' cannot be read"
        case .missingSetting(let key): "the controller config needs '\(key)' to plan"
        case .planOnly(let path, let setting): "\(path) says \(setting): dploy plans but changes nothing; nothing was applied"
        case .callbackKeyDiffers(let path):
            "\(path) is not the callback key the shared store holds for all its controllers; move it away to take the store's "
                + "(install tokens this controller handed out stop working), or copy the store's into place; nothing was applied"
        case .noCallbackKey(let path):
            "\(path) does not exist, so the plan's installers carry no callback token; make the key (Reconciler.makeCallbackKey) and plan again; nothing was applied"
        }
    }
}
