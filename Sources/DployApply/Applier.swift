import DployPlan
import DployRender
import DploySpec
import Foundation

/// Executes a plan: the only code that changes the world.
///
/// Order matters for "no surprise": the new DHCP configuration is staged and checked by
/// the real tool first, so a refused configuration stops the apply before any file moves;
/// then boot files are written atomically, the DHCP files swapped in, the server
/// reloaded, and files of removed machines deleted last. Every step is idempotent: an
/// apply killed halfway converges on the next run.
public struct Applier: Sendable {
    public var folders: OutputFolders
    public var check: DHCPCheck?
    /// The DHCP file the checker reads: dnsmasq's config (not its hosts file), dhcpd's
    /// include, Kea's JSON.
    public var dhcpConfig: OutputPath?

    public init(folders: OutputFolders, check: DHCPCheck?, dhcpConfig: OutputPath?) {
        self.folders = folders
        self.check = check
        self.dhcpConfig = dhcpConfig
    }

    public struct Report: Hashable, Sendable {
        public var written: [OutputPath] = []
        public var removed: [OutputPath] = []
        public var reloaded = false
        /// BMC steps done, `machine: step`, in order (`web-01: power cycle`).
        public var bmcSteps: [String] = []
        /// Steps handed to the job queue, `machine: step (job N)`, in order.
        public var queuedJobs: [String] = []
        /// The ids of the jobs this apply queued.
        public var jobIDs: [Int64] = []
        /// Steps held back because an earlier step of the same machine became a job, in order:
        /// a later plan makes them again once the job is over.
        public var deferred: [String] = []
    }

    /// Applies the plan. BMC steps (boot once, power, firmware) run last, once the boot files
    /// and the DHCP configuration they rely on are in place, and only when `bmc` is given;
    /// without it a plan with BMC steps changes nothing and says so.
    ///
    /// With `jobs`, BMC steps (`Action.jobStep`) are recorded as jobs there instead of run,
    /// in plan order, which the workers keep per machine: this apply waits on no BMC.
    public func apply(_ result: PlanResult, bmc: (any BMCActions)? = nil, jobs: (any BMCJobQueue)? = nil) throws -> Report {
        let actions = result.plan.actions
        let bmcMachines = bmc != nil ? [] : Set(actions.filter(\.needsBMC).compactMap(\.machine))
        guard bmcMachines.isEmpty else { throw ApplyError.needsBMC(bmcMachines.sorted()) }

        let unsafe = folders.writableByOthers(managed: ObservedState.managedFolders)
        guard unsafe.isEmpty else { throw ApplyError.writableByOthers(unsafe) }

        var report = Report()
        var staged: [(temporary: String, path: OutputPath)] = []
        defer { staged.forEach { AtomicFile.discard($0.temporary) } }
        for case .writeDHCPConfig(let path, _) in actions {
            guard let contents = result.desiredFiles[path] else { continue }
            staged.append((try AtomicFile.stage(contents, for: folders.diskPath(path)), path))
        }
        // Whenever any DHCP file changes, the configuration as it will be is checked: the
        // staged candidate, or the live file when only its companions change.
        if !staged.isEmpty, let check, let dhcpConfig {
            let candidate = staged.first { $0.path == dhcpConfig }?.temporary ?? folders.diskPath(dhcpConfig)
            try check.run(candidate: candidate, shownAs: folders.diskPath(dhcpConfig))
        }

        // Boot files: stage all, make them durable together, rename each, sync each folder once.
        var bootFiles: [(temporary: String, path: OutputPath)] = []
        var renamed = 0
        defer { bootFiles.dropFirst(renamed).forEach { AtomicFile.discard($0.temporary) } }
        let writes = actions.compactMap { action -> OutputPath? in
            if case .writeFile(let path, _, _) = action { path } else { nil }
        }
        // A commit's few files are fsynced one by one: syncfs would also wait for everything
        // else dirty on the filesystem (a VM's disk image, a build), which took a one-machine
        // commit's apply from milliseconds to a hundred. Thousands are made durable by one syncfs.
        // Staged first, then synced: the writes queue together rather than one waiting on the
        // disk before the next is written. A folder made for a file is an entry in the folder
        // above it, synced too (syncfs covers both).
        let syncEach = writes.count <= Self.fsyncEachLimit
        var madeFolders: [String] = []
        for path in writes {
            guard let contents = result.desiredFiles[path] else { continue }
            bootFiles.append((try AtomicFile.stage(contents, for: folders.diskPath(path), sync: false, madeFolders: &madeFolders), path))
        }
        if syncEach {
            for (temporary, path) in bootFiles { try AtomicFile.sync(temporary, for: folders.diskPath(path)) }
            madeFolders.forEach(AtomicFile.syncFolderOf)
        } else {
            for root in Set(bootFiles.map(\.path.root)) { try AtomicFile.flush(folders.folder(root)) }
        }
        var renamedFolders: Set<String> = []
        for (temporary, path) in bootFiles {
            let diskPath = folders.diskPath(path)
            try AtomicFile.commit(temporary, to: diskPath, syncFolder: false)
            renamed += 1
            renamedFolders.insert((diskPath as NSString).deletingLastPathComponent)
            report.written.append(path)
        }
        for folder in renamedFolders { AtomicFile.syncFolderOf(folder + "/.") }
        // Until the reload below succeeds, a marker says one is owed: a reload that fails, or
        // a process that dies before it, is retried by the next plan.
        let reloads = actions.compactMap { action -> String? in
            if case .reloadDHCP(let command, _) = action { command } else { nil }
        }
        if !staged.isEmpty, !reloads.isEmpty {
            try AtomicFile.write([], to: reloadPendingPath)
        }
        for (temporary, path) in staged {
            try AtomicFile.commit(temporary, to: folders.diskPath(path))
            report.written.append(path)
        }
        staged = []
        for command in reloads {
            let (status, output) = try Shell.run(command)
            guard status == 0 else { throw ApplyError.reloadFailed(command: command, output: output) }
            report.reloaded = true
            unlink(reloadPendingPath)
        }
        for case .removeFile(let path, _, _) in actions {
            let diskPath = folders.diskPath(path)
            if unlink(diskPath) != 0 && errno != ENOENT {
                throw ApplyError.io(diskPath, "cannot remove: \(String(cString: strerror(errno)))")
            }
            report.removed.append(path)
            removeEmptyFolders(above: diskPath, stoppingAt: folders.folder(path.root))
        }
        if let bmc { try runBMCActions(actions, bmc, jobs: jobs, report: &report) }
        return report
    }

    /// Up to this many boot files, each is fsynced; more are flushed with one syncfs.
    static let fsyncEachLimit = 8

    /// Present while a DHCP reload is owed (hidden: the DHCP server does not read it).
    public static let reloadPendingName = ".dploy-reload-pending"
    var reloadPendingPath: String { folders.folder(.dhcp) + "/" + Self.reloadPendingName }

    /// Each machine's BMC steps in plan order. One machine's failure stops its later steps
    /// (no power cycle into the old disk after a failed boot-once) but not other machines';
    /// all failures are reported together. Re-running is harmless: boot-once is a setting,
    /// power on/off does nothing when already so, a firmware step is planned only while
    /// the inventory is below the baseline, and a BIOS step only while the pending settings
    /// do not hold the desired values.
    private func runBMCActions(_ actions: [Action], _ bmc: any BMCActions, jobs: (any BMCJobQueue)?, report: inout Report) throws {
        var failures: [String: String] = [:]
        var waiting: Set<String> = []
        for action in actions where action.needsBMC {
            guard let machine = action.machine, failures[machine] == nil else { continue }
            // After a machine's first job, its later jobs queue behind it (the store runs a
            // machine's jobs in order and skips the rest when one fails); its other steps wait.
            if waiting.contains(machine) && action.jobStep == nil {
                report.deferred.append("\(machine): \(action.kind.rawValue)")
                continue
            }
            if let jobs, let (_, step) = action.jobStep {
                do {
                    let id = try jobs.enqueue(action)
                    report.queuedJobs.append("\(machine): \(step) (\(id.map { "job \($0)" } ?? "already queued"))")
                    if let id { report.jobIDs.append(id) }
                    waiting.insert(machine)
                } catch {
                    failures[machine] = "cannot queue \(step): \(error)"
                }
                continue
            }
            do {
                let done: String
                switch action {
                case .bootOnceFromNetwork:
                    try bmc.bootOnceFromNetwork(machine: machine)
                    done = "boot once from network"
                case .power(_, let power, _):
                    try bmc.power(machine: machine, power)
                    done = "power \(power.rawValue)"
                case .updateFirmware(_, let target, _):
                    try bmc.updateFirmware(machine: machine, target)
                    done = "firmware \(target.component) \(target.version)"
                case .setBIOSAttributes(_, let changes, let ifMatch, _):
                    try bmc.setBIOSAttributes(machine: machine, changes, ifMatch: ifMatch)
                    done = "bios \(changes.map(\.text).joined(separator: ", ")) (applies at next reboot)"
                case .configureRAID(_, let change, _):
                    // Deleting and creating logical drives is recorded before it is sent, so a
                    // restart never sends it twice: only the job workers run it.
                    throw BMCStepRefused("RAID on \(change.controller) runs only as a BMC job; this apply was given no job queue")
                case .writeFile, .removeFile, .writeDHCPConfig, .reloadDHCP:
                    continue
                }
                report.bmcSteps.append("\(machine): \(done)")
            } catch {
                failures[machine] = "\(error)"
            }
        }
        guard failures.isEmpty else { throw ApplyError.bmcFailed(failures.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }) }
    }

    /// An installer folder of a removed machine goes with its last file.
    private func removeEmptyFolders(above path: String, stoppingAt root: String) {
        var folder = (path as NSString).deletingLastPathComponent
        while folder.count > root.count, (try? FileManager.default.contentsOfDirectory(atPath: folder))?.isEmpty == true {
            rmdir(folder)
            folder = (folder as NSString).deletingLastPathComponent
        }
    }
}
