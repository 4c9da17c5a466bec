import DployController
import DployGit
import DployInventory
import DployPlan
import DploySpec
import Foundation
import Mustache

/// The server-rendered pages: the server list, a machine, groups, the pending plan, the
/// tasks, the source. Read-only; no JavaScript. Each function gathers what the page shows
/// into its view (`WebViews`) and renders it.
struct WebPages: Sendable {
    let library: MustacheLibrary
    let extraLinks: [String: String]

    init(extraLinks: [String: String]) {
        var library = MustacheLibrary()
        for (name, text) in WebTemplates.all {
            // The templates are part of the binary; a syntax error is a programming error
            // that every page test catches.
            try! library.register(text, named: name)
        }
        self.library = library
        self.extraLinks = extraLinks
    }

    /// Rendered once: the 401 page needs no state.
    static let signIn: String = WebPages(extraLinks: [:]).render("signIn", WebViews.Message(title: "Sign in", signingIn: true))

    func render(_ name: String, _ view: some Encodable & Sendable) -> String {
        library.render(view, withTemplate: name) ?? "template \(name) is missing"
    }

    struct Inputs {
        var desired: DesiredState?
        var status: DaemonStatus?

        var sourceLabel: String { desired?.source ?? "no desired state loaded yet" }
    }

    /// Rows per page of the server list: a fleet of thousands is read a page at a time.
    static let pageSize = 500

    /// - Parameters:
    ///   - query: keeps the machines whose name, MAC, address, state or model contains it.
    ///   - page: 1-based; out-of-range pages show the nearest one.
    func servers(_ inputs: Inputs, machines: [MachineOverview], query: String = "", page: Int = 1) -> String {
        let fleet = inputs.desired?.fleet ?? Fleet()
        let resolver = DefaultsResolver(groups: fleet.groups)
        var rows = machines
        let needle = query.trimmingCharacters(in: .whitespaces).lowercased()
        if !needle.isEmpty {
            rows = rows.filter { row in
                [row.name, row.mac, row.address, row.state, row.hardware?.model].contains { $0?.lowercased().contains(needle) == true }
            }
        }
        let (shown, current, pages) = Self.page(rows, number: page, size: Self.pageSize)
        let names = Set(shown.compactMap(\.name))
        let bmcs = Dictionary(fleet.machines.filter { names.contains($0.name) }.map {
            ($0.mac.value.description, resolver.resolve($0).settings.bmc?.address)
        }, uniquingKeysWith: { first, _ in first })
        var paging: WebViews.Servers.Paging?
        if pages > 1 {
            let q = query.isEmpty ? "" : "&q=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            paging = WebViews.Servers.Paging(current: current, pages: pages, previous: current > 1 ? "/?page=\(current - 1)\(q)" : "",
                           next: current < pages ? "/?page=\(current + 1)\(q)" : "")
        }
        let view = WebViews.Servers(
            title: "Servers", sourceLabel: inputs.sourceLabel, count: rows.count, query: query,
            lastError: inputs.status?.lastError, paging: paging,
            machines: shown.map { row in
                WebViews.Servers.Row(
                    id: row.name ?? row.mac, name: row.name ?? row.mac, state: row.state,
                    stateClass: row.state.replacingOccurrences(of: " ", with: "-"),
                    model: [row.hardware?.vendor, row.hardware?.model].compactMap { $0 }.joined(separator: " "),
                    serial: row.hardware?.serial ?? "", address: row.address ?? "",
                    generation: Self.generation(installed: row.installedGeneration, desired: row.desiredGeneration),
                    power: row.power ?? "unknown", lastInventory: row.lastInventory.map(Self.time) ?? "never",
                    lastEvent: row.lastEvent.map { "\(Self.time(row.lastEventAt!)): \($0)" } ?? "",
                    links: MachineLinks.links(bmc: bmcs[row.mac] ?? nil, host: row.address, extra: extraLinks,
                                              smartArrayControllers: row.smartArrayControllers))
            })
        return render("servers", view)
    }

    func machine(_ detail: MachineDetail, _ inputs: Inputs) -> String {
        let effective = detail.effective, observed = detail.observed, row = detail.overview
        let state = row?.state ?? "never seen"
        let installs = detail.installAttempts.reversed().map { attempt in
            WebViews.Machine.Install(
                generation: attempt.generation, started: Self.time(attempt.startedAt),
                finished: attempt.finishedAt.map(Self.time) ?? "", failed: attempt.failure ?? attempt.failedAt.map(Self.time) ?? "")
        }
        let events = detail.events.map { WebViews.Machine.Event(at: Self.time($0.at), kind: $0.kind, message: $0.message) }
        let runs = detail.taskRuns.map { Self.taskRun(TaskOverview.Run($0), task: $0.key.task) }
        let jobs = detail.bmcJobs.map { job in
            WebViews.Machine.Job(id: String(job.id), step: job.step, state: job.state.rawValue, progress: job.progressText,
                                 started: job.startedAt.map(Self.time) ?? "", finished: job.finishedAt.map(Self.time) ?? "")
        }
        let desired = effective?.reportRows.map { WebViews.Machine.DesiredField(field: $0.field, value: $0.value, origin: $0.origin) }
        let power = detail.bmcReading.map { ($0.power ?? "unreadable: \($0.error ?? "")") + ", read \(Self.time($0.readAt))" }
        let hardware = observed?.hardware.map { hardware in
            WebViews.Machine.Hardware(
                vendor: hardware.vendor ?? "", model: hardware.model ?? "", serial: hardware.serial ?? "",
                bios: hardware.biosVersion ?? "", cpus: hardware.cpus, cpuModel: hardware.cpuModel ?? "",
                memory: hardware.memoryBytes.map(Self.bytes) ?? "",
                disks: hardware.disks.map { "\($0.name) \($0.sizeBytes.map(Self.bytes) ?? "") \($0.model ?? "")" },
                nics: hardware.nics.map { "\($0.name ?? "?") \($0.mac)" + ($0.linkUp.map { $0 ? " link up" : " no link" } ?? "") })
        }
        let view = WebViews.Machine(
            title: detail.name, sourceLabel: inputs.sourceLabel, name: detail.name, mac: detail.mac.description,
            inGit: effective != nil, desired: desired ?? [],
            state: state, stateClass: state.replacingOccurrences(of: " ", with: "-"),
            installed: observed?.installedGeneration.map(String.init) ?? "none",
            generation: effective.map { String($0.generation) } ?? "—",
            lastSeen: observed.map { Self.time($0.lastSeen) } ?? "never", address: row?.address ?? "",
            power: power ?? "unknown", lastInventory: observed?.hardwareReportedAt.map(Self.time), hardware: hardware,
            installs: installs, hasInstalls: !installs.isEmpty, events: events, hasEvents: !events.isEmpty,
            taskRuns: runs, hasTaskRuns: !runs.isEmpty,
            jobs: jobs, hasJobs: !jobs.isEmpty,
            links: MachineLinks.links(bmc: effective?.settings.bmc?.address, host: row?.address, extra: extraLinks,
                                      smartArrayControllers: detail.bmcReading?.smartArrayControllers),
            conditions: (row?.conditions ?? []).map { condition in
                WebViews.Machine.Condition(type: condition.type.rawValue, status: condition.status.rawValue,
                                           reason: condition.reason.rawValue, message: condition.message,
                                           observedAt: condition.observedAt.map(Self.time) ?? "")
            })
        return render("machine", view)
    }

    func groups(_ inputs: Inputs) -> String {
        let fleet = inputs.desired?.fleet ?? Fleet()
        let resolver = DefaultsResolver(groups: fleet.groups)
        let effective = fleet.machines.map(resolver.resolve)
        let view = WebViews.Groups(
            title: "Groups", sourceLabel: inputs.sourceLabel, count: fleet.groups.count,
            groups: fleet.groups.map { group in
                WebViews.Groups.Group(
                    name: group.name, priority: group.priority,
                    selector: (group.selector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                    members: group.members.map(\.value).joined(separator: ", "),
                    machines: effective.filter { $0.groups.contains(group.name) }.map(\.name),
                    defaults: SettingsSummary.text(group.defaults))
            })
        return render("groups", view)
    }

    func plan(_ inputs: Inputs) -> String {
        let status = inputs.status
        var view = WebViews.Plan(title: "Plan", sourceLabel: inputs.sourceLabel, roleReason: status?.roleReason,
                                 rollouts: status?.rollouts ?? [])
        if let run = status?.lastRun {
            view.lastRun = WebViews.Plan.LastRun(finishedAt: Self.time(run.finishedAt), trigger: run.trigger, result: run.result.rawValue,
                                 message: run.message)
        }
        if let plan = status?.pendingPlan {
            view.pending = WebViews.Plan.Pending(
                summary: plan.summary, source: plan.source,
                machines: plan.machines.map { machine in
                    WebViews.Plan.Pending.Machine(machine: machine.machine, change: machine.change.rawValue, reasons: machine.reasons.map(\.message),
                          actions: machine.actions.map(Self.step))
                },
                shared: plan.shared.map(Self.step))
            if !plan.tasks.isEmpty {
                view.pendingTasks = WebViews.Plan.PendingTasks(tasks: plan.tasks.map { task in
                    WebViews.Plan.PendingTasks.Task(task: task.task, revision: task.revision, summary: task.summary, reason: task.reason.message,
                          targets: "\(task.targets.count): " + task.targets.prefix(20).joined(separator: ", ")
                            + (task.targets.count > 20 ? " …" : ""))
                })
            }
        }
        return render("plan", view)
    }

    func tasks(_ inputs: Inputs, rows: [TaskOverview]) -> String {
        let view = WebViews.Tasks(
            title: "Tasks", sourceLabel: inputs.sourceLabel, count: rows.count,
            tasks: rows.map { row in
                let runs = (row.runs + row.history).map { Self.taskRun($0, task: row.task) }
                return WebViews.Tasks.Task(task: row.task, revision: row.revision, inGit: row.inGit, summary: row.summary ?? row.action?.rawValue ?? "",
                             counts: row.counts, runs: runs, hasRuns: !runs.isEmpty)
            })
        return render("tasks", view)
    }

    static func taskRun(_ run: TaskOverview.Run, task: String) -> WebViews.TaskRun {
        WebViews.TaskRun(task: task, machine: run.machine, revision: run.revision, state: run.state.rawValue,
                         started: run.startedAt.map(time) ?? "", finished: run.finishedAt.map(time) ?? "",
                         exitCode: run.exitCode.map(String.init) ?? "", error: run.error ?? "", output: run.output ?? "")
    }

    func source(_ inputs: Inputs, sites: Result<[SiteView], any Error> = .success([])) -> String {
        let status = inputs.status
        let source = status?.source
        var view = WebViews.Source(
            title: "Source", sourceLabel: inputs.sourceLabel,
            git: source.map { source in
                WebViews.Source.Git(fetched: source.lastFetched.map(Self.commit) ?? "never", good: source.lastGood.map(Self.commit) ?? "none yet",
                      applied: source.lastApplied.map(Self.commit) ?? "none yet")
            },
            sourceError: source?.lastError.map { error in (error.commit.map { "\($0.short): " } ?? "") + error.message },
            role: status?.role.rawValue ?? "unknown", roleReason: status?.roleReason, runs: status?.runs ?? 0,
            nextRun: status?.nextRunAt.map(Self.time) ?? "—", lastError: status?.lastError)
        switch sites {
        case .success(let sites) where SiteView.worthShowing(sites):
            view.sites = sites.map { WebViews.Source.Site(name: $0.site, led: $0.led, leader: $0.leaderText, lastRun: $0.lastRunText) }
            view.hasSites = true
        case .success: break
        case .failure(let error): view.sitesError = "cannot read the sites from the store: \(error)"
        }
        return render("source", view)
    }

    func notFound(_ message: String, _ inputs: Inputs) -> String {
        render("notFound", WebViews.Message(title: "Not found", sourceLabel: inputs.sourceLabel, message: message))
    }

    /// One page of `items`: the page shown (clamped to what exists) and how many there are.
    static func page<Item>(_ items: [Item], number: Int, size: Int) -> (items: ArraySlice<Item>, page: Int, pages: Int) {
        let pages = max(1, (items.count + size - 1) / size)
        let page = min(max(number, 1), pages)
        let start = (page - 1) * size
        return (items[start..<min(start + size, items.count)], page, pages)
    }

    static func step(_ action: Action) -> String {
        action.line + " (\(action.reason.message))"
    }

    static func commit(_ commit: CommitInfo) -> String { "\(commit.id.short) \"\(commit.summary)\"" }

    static func generation(installed: Int?, desired: Int?) -> String {
        switch (installed, desired) {
        case let (installed?, desired?) where installed == desired: "\(installed)"
        case let (installed?, desired?): "\(installed) → \(desired)"
        case let (nil, desired?): "— → \(desired)"
        case let (installed?, nil): "\(installed)"
        case (nil, nil): "—"
        }
    }

    /// `2026-11-27 20:13:37 UTC`. Foundation's ISO 8601 style, not `Calendar` or a
    /// `DateFormatter`: those run on ICU, which the daemon keeps out of its memory.
    static func time(_ date: Date) -> String {
        // `2026-11-27T20:13:37Z`, always UTC and always this long.
        let iso = date.formatted(.iso8601)
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(8)) + " UTC"
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// A group's defaults on one line: `profile=debian-12, power=on, bmc.credentials=ilo-web`.
enum SettingsSummary {
    static func text(_ settings: MachineSettings) -> String {
        var parts: [String] = []
        func add(_ key: String, _ value: (any CustomStringConvertible)?) { if let value { parts.append("\(key)=\(value)") } }
        add("hostname", settings.hostname)
        add("profile", settings.profile)
        add("generation", settings.generation)
        add("power", settings.power?.rawValue)
        add("firmware", settings.firmware)
        add("disk", settings.disk)
        add("kernelArgs", settings.kernelArgs)
        add("bmc.credentials", settings.bmc?.credentials)
        return parts.joined(separator: ", ")
    }
}
