import DployRender
import DploySpec
import Foundation

/// The desired state at one source revision, with the template files its profiles name.
public struct DesiredState: Sendable {
    public var fleet: Fleet
    /// Template texts by path relative to the top of the spec tree.
    public var templates: [String: String]
    /// A folder, or a commit and its summary, for the plan's header.
    public var source: String
    /// The commit id, when the desired state came from git.
    public var revision: String?

    public init(fleet: Fleet, templates: [String: String], source: String, revision: String? = nil) {
        self.fleet = fleet
        self.templates = templates
        self.source = source
        self.revision = revision
    }
}

/// The settings from the controller config that shape a plan.
public struct PlanSettings: Hashable, Sendable {
    /// The DHCP server dploy writes configuration for, and the configuration's file name.
    public struct DHCP: Hashable, Sendable {
        public var backend: DHCPBackend
        public var fileName: String
        /// The folder the DHCP files live in, as the DHCP server opens them (dnsmasq's
        /// `dhcp-hostsfile` is read from this absolute path).
        public var folder: String
        /// The network a `dnsmasq-proxy` answers on.
        public var proxyNetwork: ProxyNetwork?
        public init(backend: DHCPBackend, fileName: String, folder: String, proxyNetwork: ProxyNetwork? = nil) {
            self.backend = backend
            self.fileName = fileName
            self.folder = folder
            self.proxyNetwork = proxyNetwork
        }
    }

    public var server: BootServer
    /// nil when dploy does not manage DHCP.
    public var dhcp: DHCP?
    public var reloadCommand: String?
    public var prune: Bool
    public var maxRemovals: Int
    /// Whether dploy serves TFTP (`tftp.listen`), and with it the pxelinux and GRUB loaders:
    /// only then does DHCP hand a machine its profile's loader. Without it every machine gets
    /// iPXE, which renders the same decision, as before dploy served TFTP: a site whose TFTP
    /// server has no `lpxelinux.0` must not lose its boots on an upgrade.
    public var servesLoaders: Bool
    /// Which per-machine boot files are written as snapshots for another server
    /// (`ControllerConfig.writesSnapshots`): `ipxe/<mac>.ipxe`, and the pxelinux and GRUB
    /// configs under `output.tftp`. Those not written are removed where an earlier apply left them.
    public var snapshots: Snapshots

    public struct Snapshots: Hashable, Sendable {
        public var ipxe: Bool
        public var tftp: Bool
        public init(ipxe: Bool, tftp: Bool) {
            self.ipxe = ipxe
            self.tftp = tftp
        }
        public static let all = Snapshots(ipxe: true, tftp: true)
    }

    public init(server: BootServer, dhcp: DHCP?, reloadCommand: String? = nil, prune: Bool = false, maxRemovals: Int = 5,
                servesLoaders: Bool = false, snapshots: Snapshots = .all) {
        self.server = server
        self.dhcp = dhcp
        self.reloadCommand = reloadCommand
        self.prune = prune
        self.maxRemovals = maxRemovals
        self.servesLoaders = servesLoaders
        self.snapshots = snapshots
    }

    /// The loader DHCP hands a machine whose profile is `profile`. GRUB not behind a
    /// proxyDHCP: Debian's grubnetx64.efi takes its TFTP server from the address offer, which
    /// there comes from the site's DHCP server on another host, and finds no files (measured,
    /// shared/notes/netboot-qemu.md). iPXE boots the same decision.
    func dhcpLoader(_ profile: Profile?) -> BootLoader {
        guard servesLoaders, let loader = profile?.loader else { return .ipxe }
        return loader == .grub && dhcp?.backend == .dnsmasqProxy ? .ipxe : loader
    }

    /// Why a profile's loader is not what DHCP hands out (nil when it is).
    func loaderWithheld(_ profile: Profile?) -> String? {
        guard dhcp != nil, let loader = profile?.loader, loader != dhcpLoader(profile) else { return nil }
        return servesLoaders ? "GRUB cannot boot behind a proxyDHCP on another host (it asks the address server for its files)"
            : Self.noTFTP
    }

    static let noTFTP = "dploy serves no TFTP (tftp.listen is not set)"

    /// The boot files DHCP names: on UEFI `snponly.efi` when dploy serves the loaders (it
    /// leaves cleanly for the disk; see DHCPBootOptions), else `ipxe.efi`, which a site's
    /// own TFTP server has had since before dploy served loaders.
    var bootOptions: DHCPBootOptions {
        var options = DHCPBootOptions(server: server)
        if !servesLoaders { options.uefiFile = "ipxe.efi" }
        return options
    }
}

/// A plan and the file contents its write actions need.
public struct PlanResult: Sendable {
    public var plan: Plan
    /// The contents of every file the plan writes, by path.
    public var desiredFiles: FileContents

    public init(plan: Plan, desiredFiles: FileContents) {
        self.plan = plan
        self.desiredFiles = desiredFiles
    }
}

/// Why no plan could be made: templates that do not parse or render, each at its file, line
/// and column. (What one machine's hardware refuses, such as a BIOS attribute its BIOS does
/// not list, is that machine's reason, never a PlanError: it must not stop the fleet.)
public struct PlanError: Error, Sendable, CustomStringConvertible {
    public var problems: [TemplateError]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// `plan(desired:observed:settings:)`: desired × observed → an ordered plan, with a reason
/// for every action. Pure: it reads its arguments and nothing else.
public enum Planner {
    /// - Parameters:
    ///   - cache: what the last plan worked out, machine by machine (`RenderCache`): a
    ///     machine none of whose inputs changed keeps its outcome, so a commit that changes
    ///     one machine renders and plans one machine. The daemon keeps one; one-shot commands
    ///     pass none, or one holding only another process's render digests, and plan in full.
    ///   - fingerprint: whether to digest every file for a saved plan (a reconcile loop needs none).
    public static func plan(desired: DesiredState, observed: ObservedState, settings: PlanSettings,
                            cache: RenderCache? = nil, fingerprint: Bool = true) throws(PlanError) -> PlanResult {
        let resolver = DefaultsResolver(groups: desired.fleet.groups)
        let cache = cache ?? RenderCache()
        var problems: [TemplateError] = []
        var templates: [String: Result<InstallerTemplate, TemplateError>] = [:]
        /// Renders a machine; nil (the problem noted) when its template fails.
        func render(_ machine: Machine, installed: Int?, failed: Int?) -> RenderedMachine? {
            do throws(TemplateError) {
                return try Self.render(machine, installed: installed, failed: failed, resolver: resolver,
                                       desired: desired, settings: settings, templates: &templates)
            } catch {
                if !problems.contains(error) { problems.append(error) }
                return nil
            }
        }

        // The machines whose inputs changed since the last plan (all of them on the first):
        // each is worked out again; every other keeps its outcome.
        var files = FileContents()
        /// Machines whose files to write are in `files` already: rendered just now.
        var contentsSet: Set<String> = []
        for machine in cache.begin(desired: desired, observed: observed, settings: settings, resolver: resolver) {
            let mac = machine.mac.value
            let installed = observed.installedGenerations[mac]
            // A generation whose install failed is not tried again: the machine boots from
            // its disk until the generation changes. No endless reinstall loop.
            let failed = observed.failedInstalls[mac]
            let rendered: RenderedMachine
            let outcome: MachineOutcome
            if let kept = cache.render(of: machine, installed: installed, failed: failed, desired: desired, settings: settings),
               let outcomeKept = cache.outcomes[machine.name] {
                // Only what is observed of it changed: its steps are worked out again in place.
                rendered = kept
                outcomeKept.steps = steps(rendered, installed: installed, failed: failed, observed: observed, desired: desired,
                                          settings: settings)
                outcome = outcomeKept
            } else {
                if let digests = cache.persistedDigests(machine, installed: installed, failed: failed) {
                    // Rendered by an earlier process from the same inputs: only the files' digests are needed.
                    let (effective, profile, needsInstall, _) = decide(machine, installed: installed, failed: failed,
                                                                       resolver: resolver, desired: desired)
                    rendered = RenderedMachine(effective: effective, profile: profile, needsInstall: needsInstall, files: [:],
                                               digests: digests, host: DHCPHost(effective, loader: settings.dhcpLoader(profile)))
                } else {
                    guard let fresh = render(machine, installed: installed, failed: failed) else { continue }
                    rendered = fresh
                }
                outcome = MachineOutcome(rendered: rendered, installed: installed, failed: failed, backend: settings.dhcp?.backend,
                                         steps: steps(rendered, installed: installed, failed: failed, observed: observed,
                                                      desired: desired, settings: settings))
                cache.keep(outcome)
            }
            // Only the files it writes are kept, and in the plan's one buffer: a first plan
            // renders the whole fleet, whose bytes must not outlive this loop's turn.
            if !rendered.files.isEmpty, let plan = outcome.steps.plan {
                for path in plan.writtenPaths { if let bytes = rendered.files[path] { files.set(bytes, for: path) } }
                contentsSet.insert(machine.name)
            }
        }
        guard problems.isEmpty else {
            cache.reset()
            throw PlanError(problems: problems)
        }

        // The plan of the fleet, put together from every machine's outcome in fleet order.
        var machinePlans: [MachinePlan] = []
        /// Notes about desired machines (BIOS settings waiting for a reboot or withheld), in machine order.
        var machineNotes: [Reason] = []
        var hosts: [(host: DHCPHost, entry: String?)] = []
        hosts.reserveCapacity(desired.fleet.machines.count)
        // Observed files accounted for by desired machines and shared files: when that is
        // all of them, nothing was removed from git and no file needs an owner looked up.
        var claimed = 0
        // Machines whose profile boots another loader than DHCP hands them (no TFTP served,
        // or GRUB behind a proxyDHCP): they boot iPXE, and the plan says why.
        var unservedLoaders: [String: [String]] = [:]
        // The fleet's rollouts, and the machines each governs, with the index of their plan
        // when they have one. Worked out here from the effective machine, not kept with its
        // outcome: a rollout added to a document changes no machine's render.
        let rollouts = Rollout.all(in: desired.fleet)
        var rolloutMachines: [String: [(effective: EffectiveMachine, mac: MACAddress, plan: Int?)]] = [:]
        for machine in desired.fleet.machines {
            guard let outcome = cache.outcomes[machine.name] else { continue }
            hosts.append((DHCPHost(outcome.effective, loader: outcome.loader), outcome.dhcpEntry))
            let steps = outcome.steps
            if let (why, entry) = steps.unservedLoader { unservedLoaders[why, default: []].append(entry) }
            claimed += steps.owned
            machineNotes += steps.notes
            var planIndex: Int?
            if let plan = steps.plan {
                // Only files that will be written need their contents in the result. Outcomes
                // keep digests, not bytes: a machine with a file to write is rendered again.
                let writes = plan.writtenPaths
                if !writes.isEmpty && !contentsSet.contains(machine.name) {
                    guard let rendered = render(machine, installed: outcome.installed, failed: outcome.failed) else { continue }
                    for path in writes { if let bytes = rendered.files[path] { files.set(bytes, for: path) } }
                }
                planIndex = machinePlans.count
                machinePlans.append(plan)
            }
            if !rollouts.isEmpty {
                for name in Rollout.names(governing: outcome.effective, in: desired.fleet) { rolloutMachines[name, default: []].append((outcome.effective, machine.mac.value, planIndex)) }
            }
        }
        guard problems.isEmpty else {
            cache.reset()
            throw PlanError(problems: problems)
        }
        // Rollouts decide which of the firmware, BIOS and RAID steps planned above start now.
        for rollout in rollouts {
            guard let machines = rolloutMachines[rollout.name] else { continue }
            RolloutGate.apply(rollout, machines: machines, observed: observed, plans: &machinePlans, notes: &machineNotes)
        }
        machinePlans.removeAll { $0.actions.isEmpty }

        var shared: [Action] = []
        // Shared files: their digests count among the desired files whether or not they are written.
        var sharedDigests: [OutputPath: ContentDigest] = [:]
        /// Keeps a shared file's contents and digest; true when the file on disk differs.
        func differs(_ path: OutputPath, _ text: String) -> Bool {
            let contents = Array(text.utf8)
            let digest = ContentDigest(contents)
            sharedDigests[path] = digest
            files.set(contents, for: path)
            if observed.files[path] != nil { claimed += 1 }
            return observed.files[path]?.digest != digest
        }
        if differs(BootPaths.ipxeEntry, IPXEScript.entry(server: settings.server)) {
            shared.append(.writeFile(BootPaths.ipxeEntry, machine: nil, reason: Reason(.ipxeEntry, "iPXE entry script")))
        }
        if hosts.contains(where: { $0.host.loader == .grub }), differs(BootPaths.grubEntry, GRUBConfig.entry(server: settings.server)) {
            shared.append(.writeFile(BootPaths.grubEntry, machine: nil, reason: Reason(.grubEntry, "GRUB's first config")))
        }
        if let dhcp = settings.dhcp {
            // In name order, as the renderers write them (a fleet from the loader is sorted already).
            if !hosts.indices.dropFirst().allSatisfy({ hosts[$0 - 1].host.name <= hosts[$0].host.name }) {
                hosts.sort { $0.host.name < $1.host.name }
            }
            let dhcpFiles = DHCPFiles.render(dhcp, hosts: hosts, boot: settings.bootOptions)
            var changed = false
            for (path, text) in dhcpFiles.sorted(by: { $0.key < $1.key }) {
                if differs(path, text) {
                    let checked = path.path == dhcp.fileName ? ", checked by \(dhcp.backend.rawValue)'s own checker first" : ""
                    shared.append(.writeDHCPConfig(path, reason: Reason(.dhcpReservations,
                        "\(hosts.count) reservation\(hosts.count == 1 ? "" : "s") for \(dhcp.backend.rawValue)\(checked)")))
                    changed = true
                }
            }
            if changed || observed.dhcpReloadPending, let reload = settings.reloadCommand {
                shared.append(.reloadDHCP(command: reload, reason: changed ? Reason(.dhcpChanged, "the DHCP configuration changed")
                    : Reason(.dhcpReloadOwed, "the last reload did not finish; the server may run the old configuration")))
            }
        }

        var allFiles: [OutputPath: ContentDigest] {
            desired.fleet.machines.reduce(into: sharedDigests) { all, machine in
                if let digests = cache.outcomes[machine.name]?.digests { all.merge(digests) { $1 } }
            }
        }
        let (removals, notes) = claimed == observed.files.count ? ([], [])
            : removedMachines(observed: observed, desired: Dictionary(desired.fleet.machines.map { ($0.name, $0.mac.value) }) { first, _ in first },
                              wanted: allFiles, settings: settings)
        machinePlans += removals
        machinePlans.sort { $0.machine < $1.machine }
        let desiredMACs = observed.discovered.isEmpty ? [] : Set(desired.fleet.machines.map(\.mac.value))
        let strangers = observed.discovered.filter { !desiredMACs.contains($0.key) }.sorted { $0.key < $1.key }
        let discoveredNotes = strangers.map { mac, what in
            Reason(.discoveredNotInGit, "discovered, not in git: \(mac) (\(what)); dploy leaves it alone until a Machine document names it")
        }
        let tasks = TaskPlanner.plan(fleet: desired.fleet, resolver: resolver, recorded: observed.taskRuns)
        let loaderNotes = unservedLoaders.sorted { $0.key < $1.key }.map { Self.loaderNotServed($0.value, why: $0.key) }
        let plan = Plan(source: desired.source, revision: desired.revision, fingerprint: fingerprint ? Fingerprint.of(desired: allFiles, observed: observed) : "",
                        machines: machinePlans, shared: shared, tasks: tasks.tasks,
                        notes: machineNotes + notes + tasks.notes + discoveredNotes + loaderNotes)
        return PlanResult(plan: plan, desiredFiles: files)
    }

    /// One machine's steps, from its render and what is observed of it alone.
    static func steps(_ rendered: RenderedMachine, installed: Int?, failed: Int?, observed: ObservedState, desired: DesiredState,
                      settings: PlanSettings) -> MachineSteps {
        let machine = rendered.effective.machine
        // Files of this machine on disk: boot files by MAC, installer answers by name.
        let answers = ["preseed.cfg", "ks.cfg", "user-data", "meta-data"].map {
            OutputPath(.http, "\(BootPaths.installerFolder(machine.name))/\($0)")
        }
        let owned = (rendered.bootPaths + answers).filter { observed.files[$0] != nil }
        let baseline = rendered.effective.settings.firmware.flatMap(desired.fleet.firmwareBaseline(named:))
        let facts = MachineFacts(rendered: rendered, owned: owned, installed: installed, installing: observed.installing[machine.mac.value],
                                 failed: failed, baseline: baseline)
        var notes: [Reason] = []
        let plan = planMachine(facts, observed: observed, notes: &notes)
        var unserved: (why: String, entry: String)?
        if let why = settings.loaderWithheld(rendered.profile), let loader = rendered.profile?.loader {
            unserved = (why, "\(machine.name) (\(loader.rawValue))")
        }
        return MachineSteps(plan: plan, notes: notes, owned: owned.count, unservedLoader: unserved)
    }

    /// Every file one machine needs, from its effective spec and whether it must install.
    static func render(_ machine: Machine, installed: Int?, failed: Int?, resolver: DefaultsResolver, desired: DesiredState,
                       settings: PlanSettings,
                       templates: inout [String: Result<InstallerTemplate, TemplateError>]) throws(TemplateError) -> RenderedMachine {
        let (effective, profile, needsInstall, intent) = decide(machine, installed: installed, failed: failed,
                                                              resolver: resolver, desired: desired)
        let mac = machine.mac.value

        var files: [OutputPath: String] = [:]
        if settings.snapshots.ipxe {
            files[BootPaths.ipxeScript(mac)] = IPXEScript.machine(effective, intent: intent, server: settings.server, snapshot: true)
        }
        if settings.snapshots.tftp, let profile, profile.loader == .grub {
            files[BootPaths.grub(mac)] = GRUBConfig.machine(effective, intent: intent, server: settings.server, snapshot: true)
        } else if settings.snapshots.tftp {
            files[BootPaths.pxelinux(mac)] = PXELinuxConfig.machine(effective, intent: intent, server: settings.server, snapshot: true)
        }
        if needsInstall, let profile, let installer = profile.installer, let template = installer.template,
           let name = InstallerTemplate.fileName(for: installer.kind) {
            let parsed = templates[template.value] ?? Result { () throws(TemplateError) in
                try InstallerTemplate(path: template.value, text: desired.templates[template.value] ?? "")
            }
            templates[template.value] = parsed
            let folder = BootPaths.installerFolder(machine.name)
            files[OutputPath(.http, "\(folder)/\(name)")] = try parsed.get().render(for: effective, profile: profile,
                                                                                    server: settings.server)
            if installer.kind == .autoinstall {
                files[OutputPath(.http, "\(folder)/meta-data")] = "instance-id: \(machine.name)-\(effective.generation)\n"
            }
        }
        let bytes = files.mapValues { Array($0.utf8) }
        return RenderedMachine(effective: effective, profile: profile, needsInstall: needsInstall,
                               files: bytes, digests: bytes.mapValues(ContentDigest.init),
                               host: DHCPHost(effective, loader: settings.dhcpLoader(profile)))
    }

    /// A machine's effective spec, its profile, and what its snapshot boot files say: the
    /// part of a render that needs no renderer (a render whose digests are known reuses it).
    static func decide(_ machine: Machine, installed: Int?, failed: Int?, resolver: DefaultsResolver, desired: DesiredState)
        -> (effective: EffectiveMachine, profile: Profile?, needsInstall: Bool, intent: BootIntent) {
        let effective = resolver.resolve(machine)
        let profile = effective.settings.profile.flatMap(desired.fleet.profile(named:))
        // The same decider as the server's, on what the plan knows: these files are a
        // snapshot for sites that serve them from elsewhere; dploy's own server decides anew
        // at each request. The planner records nothing, so it never speaks for the machine.
        let decision = BootDecider.decide(BootDecider.Facts(
            machine: effective, profile: profile, installedGeneration: installed, failedGeneration: failed,
            now: .distantPast, maxAttempts: .max))  // no attempts are given: the time is never read
        if case .install(let profile, _, _) = decision { return (effective, profile, true, .install(profile)) }
        return (effective, profile, false, .localDisk)
    }

    /// What the planner knows of one desired machine in this plan: its render and how it
    /// stands, so that deciding its steps reads one value.
    struct MachineFacts {
        var rendered: RenderedMachine
        /// Its files on disk: boot files by MAC, installer answers by name.
        var owned: [OutputPath]
        var installed: Int?
        var installing: Int?
        var failed: Int?
        var baseline: FirmwareBaseline?
    }

    /// The steps for one desired machine, or nil when it is as it should be. BIOS attributes
    /// already pending, and BIOS settings withheld because its BIOS refuses them, add to `notes`.
    private static func planMachine(_ facts: MachineFacts, observed: ObservedState, notes: inout [Reason]) -> MachinePlan? {
        let machine = facts.rendered.effective, files = facts.rendered.digests
        let (installed, failed, needsInstall) = (facts.installed, facts.failed, facts.rendered.needsInstall)
        let mac = machine.machine.mac.value
        // New to dploy: nothing written for it, and no install of it known. (Files alone do not
        // say it: without snapshots an installed machine owns none, and one whose files an
        // operator deleted is still installed.)
        let isNew = facts.owned.isEmpty && installed == nil && failed == nil && facts.installing == nil
        var reasons: [Reason] = []
        var actions: [Action] = []
        // A reinstall of a newer generation is planned (boot once and power cycle): what the
        // disks hold is about to be replaced, so a RAID change may destroy it.
        var reinstalls = false
        let differing = files.filter { observed.files[$0.key]?.digest != $0.value }.keys
        for path in differing.sorted() {
            actions.append(.writeFile(path, machine: machine.name, reason: observed.files[path] == nil
                                      ? Reason(.fileMissing, "new file") : Reason(.fileChanged, "content changed")))
        }
        // Files of this machine that it no longer needs (an installer answer after the install).
        for path in facts.owned.filter({ files[$0] == nil }).sorted() {
            actions.append(.removeFile(path, machine: machine.name, reason: Reason(.fileNotNeeded, "no longer needed")))
        }

        if isNew {
            let address = machine.machine.ip.map { "DHCP reservation \($0.value)" } ?? "DHCP entry without a fixed address"
            let message = if let profile = facts.rendered.profile, needsInstall {
                "new machine: \(address); installs \(profile.name) generation \(machine.generation) at its next network boot"
            } else if facts.rendered.profile == nil {
                "new machine: \(address); boots its local disk (no profile)"
            } else {
                "new machine: \(address); boots its local disk"
            }
            reasons.append(Reason(.newMachine, message))
        }
        if failed == machine.generation {
            reasons.append(Reason(.installFailed,
                                  "the install of generation \(machine.generation) failed; boots its local disk until the generation changes"))
        } else if facts.installing == machine.generation {
            // Already booted into its installer: power-cycling it now would interrupt the install.
            if !isNew && !actions.isEmpty {
                reasons.append(Reason(.installInProgress, "boot files changed while generation \(machine.generation) installs"))
            }
        } else if !isNew, let installed, needsInstall, let profile = facts.rendered.profile {
            let behind = Reason(.generationBehind, "reinstall: generation \(installed) → \(machine.generation) (profile \(profile.name))")
            reasons.append(behind)
            // This generation's start already queued, sent or failed: the gate holds it, and a
            // RAID deletion may no longer count on a reinstall following it.
            let startPrefix = "start the reinstall of generation \(machine.generation):"
            let started = (observed.bmcJobs[machine.name] ?? []).contains { $0.step.hasPrefix(startPrefix) && $0.state != .cancelled && $0.state != .skipped }
            // BIOS and RAID settings go before the reboot that installs: not read yet, they
            // could not be planned ahead of it, so the reinstall waits for the reading.
            let unread = (machine.settings.bios != nil && observed.bios[mac] == nil)
                || (machine.settings.storage != nil && observed.storage[mac] == nil)
            if machine.settings.bmc?.address != nil && unread && !started {
                reasons.append(Reason(.generationBehind, "the reinstall waits for the BMC's BIOS and RAID settings to be read, so they are set before it"))
            } else if machine.settings.bmc?.address != nil {
                reinstalls = !started
                let start = Reason(.generationBehind, "start the reinstall of generation \(machine.generation)")
                actions.append(.bootOnceFromNetwork(machine: machine.name, reason: start))
                actions.append(.power(machine: machine.name, .cycle, reason: start))
            } else {
                reasons.append(Reason(.noBMC, "no BMC: reinstalls at its next network boot"))
            }
        } else if !isNew && !actions.isEmpty {
            reasons.append(Reason(.bootFilesChanged, "boot files changed"))
        }
        if let observedPower = observed.power[mac], machine.settings.bmc?.address != nil,
           let wanted = PowerAction(desired: machine.power), observedPower.rawValue != wanted.rawValue {
            reasons.append(Reason(.powerDrift, "power drift: observed \(observedPower.rawValue), desired \(wanted.rawValue)"))
            actions.append(.power(machine: machine.name, wanted, reason: Reason(.powerDrift, "power drift")))
        }
        if let baseline = facts.baseline, let firmware = observed.firmware[mac], machine.settings.bmc?.address != nil {
            let drift = FirmwareDrift.plan(machine: machine.name, baseline: baseline, observed: firmware)
            reasons += drift.reasons
            actions += drift.actions
        }
        if let bios = machine.settings.bios, let observedBIOS = observed.bios[mac], machine.settings.bmc?.address != nil {
            let location = switch machine.origins["bios.attributes"] {
            case .machine(let location), .group(_, let location): location
            case nil: machine.machine.metadata.location
            }
            let drift = BIOSDrift.plan(machine: machine.name, desired: bios, observed: observedBIOS, location: location)
            reasons += drift.reasons
            // Before a reinstall's boot-once and power cycle (and any power step), so the
            // settings are pending when the machine reboots and it installs with them.
            let firstPowerStep = actions.firstIndex { $0.kind == .bootOnceFromNetwork || $0.kind == .power } ?? actions.endIndex
            actions.insert(contentsOf: drift.actions, at: firstPowerStep)
            notes += drift.notes
        } else if machine.settings.bios != nil, machine.settings.bmc?.address != nil, let error = observed.biosUnread[mac] {
            let message = "BIOS settings not read, so none is planned: \(Names.escapingControls(error))"
            reasons.append(Reason(.biosUnread, message))
            notes.append(Reason(.biosUnread, "\(machine.name): \(message)"))
        }
        if let storage = machine.settings.storage, let observedStorage = observed.storage[mac], machine.settings.bmc?.address != nil {
            let location = switch machine.origins["storage.logicalDrives"] {
            case .machine(let location), .group(_, let location): location
            case nil: machine.machine.metadata.location
            }
            let permission: RAIDDrift.Permission? = machine.settings.allowDestructive == true ? .allowDestructive
                : reinstalls ? .reinstall(generation: machine.generation) : nil
            let drift = RAIDDrift.plan(machine: machine.name, desired: storage, observed: observedStorage, permission: permission,
                                       location: location)
            reasons += drift.reasons
            // Before the reinstall's boot-once and power cycle: SmartStorageConfig applies at
            // that reboot, and the installer then finds the logical drives it partitions.
            let firstPowerStep = actions.firstIndex { $0.kind == .bootOnceFromNetwork || $0.kind == .power } ?? actions.endIndex
            actions.insert(contentsOf: drift.actions, at: firstPowerStep)
            notes += drift.notes
        } else if machine.settings.storage != nil, machine.settings.bmc?.address != nil, let error = observed.storageUnread[mac] {
            let message = "storage not read, so no RAID step is planned: \(Names.escapingControls(error))"
            reasons.append(Reason(.raidUnread, message))
            notes.append(Reason(.raidUnread, "\(machine.name): \(message)"))
        }
        if let generation = facts.installing, actions.contains(where: { $0.kind == .updateFirmware || $0.kind == .configureRAID }) {
            // A flash resets parts of the machine (iLO, the ROM after reboot), and a RAID change
            // rewrites the disks the installer writes: never under an installer.
            actions.removeAll { $0.kind == .updateFirmware || $0.kind == .configureRAID }
            reasons.append(Reason(.installInProgress, "installing generation \(generation): firmware and RAID wait until the install ends"))
        }
        BMCJobGate.apply(observed.bmcJobs[machine.name] ?? [], machine: machine.name, actions: &actions, reasons: &reasons,
                         notes: &notes)
        if let task = observed.imaging[mac], actions.contains(where: \.needsBMC) {
            // Like an install, an image being written or read is never power-cycled under it.
            actions.removeAll(where: \.needsBMC)
            reasons.append(Reason(.imagingInProgress, "imaging for task '\(task)': its BMC steps wait until the run ends"))
        }
        guard !actions.isEmpty else { return nil }
        return MachinePlan(machine: machine.name, change: isNew ? .add : .change, reasons: reasons, actions: actions)
    }

    /// Machines whose files are still there but who are gone from git. Removing files is all
    /// dploy ever does for them (never a power-off or a wipe), and only with prune on, at
    /// most `maxRemovals` machines per apply.
    private static func removedMachines(observed: ObservedState, desired: [String: MACAddress], wanted: [OutputPath: ContentDigest],
                                        settings: PlanSettings) -> ([MachinePlan], [Reason]) {
        var orphans: [String: [OutputPath]] = [:]
        for (path, file) in observed.files where wanted[path] == nil {
            guard let owner = owner(of: path, file: file) else { continue }
            guard let mac = desired[owner] else {
                orphans[owner, default: []].append(path)
                continue
            }
            // A snapshot no longer written (dploy serves it) is its machine's own to remove.
            guard !isInstallerAnswer(path), !BootPaths.machineFiles(mac).contains(path) else { continue }
            // A boot file of a machine still in git, under a MAC it no longer has.
            orphans["\(owner) (previous MAC)", default: []].append(path)
        }
        guard !orphans.isEmpty else { return ([], []) }
        let owners = orphans.keys.sorted()
        guard settings.prune else {
            let keep = owners.count == 1 ? "1 machine removed from git keeps its boot files" : "\(owners.count) machines removed from git keep their boot files"
            return ([], [Reason(.pruneDisabled, "\(keep) (prune is off): \(owners.joined(separator: ", "))")])
        }
        let removed = owners.prefix(settings.maxRemovals).map { owner in
            MachinePlan(machine: owner, change: .remove,
                        reasons: [Reason(.orphaned, "removed from git: its boot files are removed (it is not powered off or wiped)")],
                        actions: orphans[owner]!.sorted().map { .removeFile($0, machine: owner, reason: Reason(.orphaned, "removed from git")) })
        }
        let held = owners.dropFirst(settings.maxRemovals)
        let notes = held.isEmpty ? [] : [Reason(.removalsHeldBack,
            "\(held.count) more removal\(held.count == 1 ? "" : "s") held back by prune.maxRemovals (\(settings.maxRemovals)): \(held.joined(separator: ", "))")]
        return (Array(removed), notes)
    }

    /// The note for machines whose profile's loader DHCP cannot hand out: at most ten named,
    /// so that a fleet-wide profile does not make the note a page long.
    static func loaderNotServed(_ machines: [String], why: String = PlanSettings.noTFTP) -> Reason {
        let named = machines.sorted().prefix(10).joined(separator: ", ")
        let more = machines.count > 10 ? " and \(machines.count - 10) more" : ""
        let count = machines.count == 1 ? "1 machine's profile boots" : "\(machines.count) machines' profiles boot"
        return Reason(.loaderNotServed, "\(count) pxelinux or GRUB, but \(why): DHCP gives them iPXE, which boots the same decision: \(named)\(more)")
    }

    /// `installers/NAME/FILE` where FILE is one dploy writes; anything else an operator put
    /// in those folders is not dploy's, and is never removed.
    static func isInstallerAnswer(_ path: OutputPath) -> Bool {
        // Runs for every observed file: checked without splitting the path.
        guard path.root == .http, path.path.hasPrefix("installers/") else { return false }
        let rest = path.path.dropFirst("installers/".count)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex else { return false }
        let file = rest[rest.index(after: slash)...]
        return file == "preseed.cfg" || file == "ks.cfg" || file == "user-data" || file == "meta-data"
    }

    /// The name of the machine a managed file was written for: from the installer folder's
    /// name, or from the `# dploy: NAME (MAC)` line every boot file starts with. Files that
    /// are not dploy's (no such line) have no owner and are never removed.
    static func owner(of path: OutputPath, file: ObservedFile) -> String? {
        if path.root == .http && path.path.hasPrefix("installers/") {
            return isInstallerAnswer(path) ? String(path.path.split(separator: "/")[1]) : nil
        }
        return file.owner
    }
}
