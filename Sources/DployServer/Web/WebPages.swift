import DployController
import DployGit
import DployInventory
import DployPlan
import DploySpec
import Foundation
import Mustache

/// The server-rendered pages: the server list, a machine, groups, the pending plan, the
/// source. Read-only; no JavaScript. Each function gathers what the page shows into a
/// Mustache context and renders it.
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
    static let signIn: String = WebPages(extraLinks: [:]).render("signIn", ["title": "Sign in"])

    func render(_ name: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: name) ?? "template \(name) is missing"
    }

    struct Inputs {
        var snapshot: LiveDesired.Snapshot?
        var status: DaemonStatus?
    }

    func base(_ title: String, _ inputs: Inputs) -> [String: Any] {
        ["title": title, "sourceLabel": inputs.snapshot?.desired.source ?? "no desired state loaded yet"]
    }

    /// Rows per page of the server list: a fleet of thousands is read a page at a time.
    static let pageSize = 500

    /// - Parameters:
    ///   - query: keeps the machines whose name, MAC, address, state or model contains it.
    ///   - page: 1-based; out-of-range pages show the nearest one.
    func servers(_ inputs: Inputs, store: SQLiteStore, query: String = "", page: Int = 1) throws -> String {
        let fleet = inputs.snapshot?.desired.fleet ?? Fleet()
        let resolver = DefaultsResolver(groups: fleet.groups)
        var rows = MachineOverview.rows(fleet: fleet, observed: try store.machines(), latestEvents: try store.latestEvents(),
                                        bmcReadings: try store.bmcReadings())
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
        var context = base("Servers", inputs)
        context["count"] = rows.count
        context["query"] = query
        context["lastError"] = inputs.status?.lastError
        if pages > 1 {
            let q = query.isEmpty ? "" : "&q=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            context["paging"] = [
                "current": current, "pages": pages,
                "previous": current > 1 ? "/?page=\(current - 1)\(q)" : "", "next": current < pages ? "/?page=\(current + 1)\(q)" : "",
            ] as [String: Any]
        }
        context["machines"] = shown.map { row -> [String: Any] in
            [
                "id": row.name ?? row.mac, "name": row.name ?? row.mac, "state": row.state,
                "stateClass": row.state.replacingOccurrences(of: " ", with: "-"),
                "model": [row.hardware?.vendor, row.hardware?.model].compactMap { $0 }.joined(separator: " "),
                "serial": row.hardware?.serial ?? "", "address": row.address ?? "",
                "generation": Self.generation(installed: row.installedGeneration, desired: row.desiredGeneration),
                "power": row.power ?? "unknown", "lastInventory": row.lastInventory.map(Self.time) ?? "never",
                "lastEvent": row.lastEvent.map { "\(Self.time(row.lastEventAt!)): \($0)" } ?? "",
                "links": MachineLinks.context(MachineLinks.links(bmc: bmcs[row.mac] ?? nil, host: row.address, extra: extraLinks)),
            ]
        }
        return render("servers", context)
    }

    /// nil when no machine has that name or MAC.
    func machine(_ id: String, _ inputs: Inputs, store: SQLiteStore) throws -> String? {
        let fleet = inputs.snapshot?.desired.fleet ?? Fleet()
        let inGit = fleet.machine(named: id) ?? MACAddress(id).flatMap { mac in fleet.machines.first { $0.mac.value == mac } }
        guard let mac = inGit?.mac.value ?? MACAddress(id) else { return nil }
        let observed = try store.machine(mac)
        guard inGit != nil || observed != nil else { return nil }
        let effective = inGit.map { DefaultsResolver(groups: fleet.groups).resolve($0) }
        var one = Fleet()
        one.groups = fleet.groups
        one.machines = inGit.map { [$0] } ?? []
        let row = MachineOverview.rows(fleet: one, observed: observed.map { [$0] } ?? []).first
        var context = base(inGit?.name ?? mac.description, inputs)
        context["name"] = inGit?.name ?? mac.description
        context["mac"] = mac.description
        context["inGit"] = inGit != nil
        context["desired"] = effective?.reportRows.map { ["field": $0.field, "value": $0.value, "origin": $0.origin] } ?? []
        context["state"] = row?.state ?? "never seen"
        context["stateClass"] = (row?.state ?? "never seen").replacingOccurrences(of: " ", with: "-")
        context["installed"] = observed?.installedGeneration.map(String.init) ?? "none"
        context["generation"] = effective.map { String($0.generation) } ?? "—"
        context["lastSeen"] = observed.map { Self.time($0.lastSeen) } ?? "never"
        context["address"] = row?.address ?? ""
        let reading = try store.bmcReadings()[mac]
        context["power"] = reading.map { ($0.power ?? "unreadable: \($0.error ?? "")") + ", read \(Self.time($0.readAt))" } ?? "unknown"
        context["lastInventory"] = observed?.hardwareReportedAt.map(Self.time)
        if let hardware = observed?.hardware {
            context["hardware"] = [
                "vendor": hardware.vendor ?? "", "model": hardware.model ?? "", "serial": hardware.serial ?? "",
                "bios": hardware.biosVersion ?? "", "cpus": hardware.cpus, "cpuModel": hardware.cpuModel ?? "",
                "memory": hardware.memoryBytes.map(Self.bytes) ?? "",
                "disks": hardware.disks.map { "\($0.name) \($0.sizeBytes.map(Self.bytes) ?? "") \($0.model ?? "")" },
                "nics": hardware.nics.map { "\($0.name ?? "?") \($0.mac)" + ($0.linkUp.map { $0 ? " link up" : " no link" } ?? "") },
            ] as [String: Any]
        }
        let installs = try store.installAttempts(mac).reversed().map { attempt -> [String: Any] in
            ["generation": attempt.generation, "started": Self.time(attempt.startedAt),
             "finished": attempt.finishedAt.map(Self.time) ?? "", "failed": attempt.failure ?? attempt.failedAt.map(Self.time) ?? ""]
        }
        context["installs"] = installs
        context["hasInstalls"] = !installs.isEmpty
        let events = try store.events(for: mac, limit: 100).map { ["at": Self.time($0.at), "kind": $0.kind, "message": $0.message] }
        context["events"] = events
        context["hasEvents"] = !events.isEmpty
        let runs = try store.taskRuns(mac: mac).map { run -> [String: Any] in
            Self.taskRun(TaskOverview.Run(run)).merging(["task": run.key.task]) { $1 }
        }
        context["taskRuns"] = runs
        context["hasTaskRuns"] = !runs.isEmpty
        context["links"] = MachineLinks.context(MachineLinks.links(
            bmc: effective?.settings.bmc?.address, host: row?.address, extra: extraLinks))
        return render("machine", context)
    }

    func groups(_ inputs: Inputs) -> String {
        let fleet = inputs.snapshot?.desired.fleet ?? Fleet()
        let resolver = DefaultsResolver(groups: fleet.groups)
        let effective = fleet.machines.map(resolver.resolve)
        var context = base("Groups", inputs)
        context["count"] = fleet.groups.count
        context["groups"] = fleet.groups.map { group -> [String: Any] in
            [
                "name": group.name, "priority": group.priority,
                "selector": (group.selector ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "),
                "members": group.members.map(\.value).joined(separator: ", "),
                "machines": effective.filter { $0.groups.contains(group.name) }.map(\.name),
                "defaults": SettingsSummary.text(group.defaults),
            ]
        }
        return render("groups", context)
    }

    func plan(_ inputs: Inputs) -> String {
        var context = base("Plan", inputs)
        if let run = inputs.status?.lastRun {
            context["lastRun"] = ["finishedAt": Self.time(run.finishedAt), "trigger": run.trigger,
                                  "result": run.result.rawValue, "message": run.message]
        }
        context["roleReason"] = inputs.status?.roleReason
        if let plan = inputs.status?.pendingPlan {
            context["pending"] = [
                "summary": plan.summary, "source": plan.source,
                "machines": plan.machines.map { machine -> [String: Any] in
                    ["machine": machine.machine, "change": machine.change.rawValue, "reasons": machine.reasons.map(\.message),
                     "actions": machine.actions.map(Self.step)]
                },
                "shared": plan.shared.map(Self.step),
            ] as [String: Any]
        }
        if let plan = inputs.status?.pendingPlan, !plan.tasks.isEmpty {
            context["pendingTasks"] = ["tasks": plan.tasks.map { task -> [String: Any] in
                ["task": task.task, "revision": task.revision, "summary": task.summary, "reason": task.reason.message,
                 "targets": "\(task.targets.count): " + task.targets.prefix(20).joined(separator: ", ")
                    + (task.targets.count > 20 ? " …" : "")]
            }]
        }
        return render("plan", context)
    }

    func tasks(_ inputs: Inputs, store: SQLiteStore) throws -> String {
        let rows = TaskOverview.rows(fleet: inputs.snapshot?.desired.fleet ?? Fleet(), runs: try store.taskRuns(task: nil))
        var context = base("Tasks", inputs)
        context["count"] = rows.count
        context["tasks"] = rows.map { row -> [String: Any] in
            let runs = (row.runs + row.history).map(Self.taskRun)
            return ["task": row.task, "revision": row.revision as Any, "inGit": row.inGit,
                    "summary": row.summary ?? row.action ?? "", "counts": row.counts, "runs": runs, "hasRuns": !runs.isEmpty]
        }
        return render("tasks", context)
    }

    static func taskRun(_ run: TaskOverview.Run) -> [String: Any] {
        ["machine": run.machine, "revision": run.revision, "state": run.state.rawValue,
         "started": run.startedAt.map(time) ?? "", "finished": run.finishedAt.map(time) ?? "",
         "exitCode": run.exitCode.map(String.init) ?? "", "error": run.error ?? "", "output": run.output ?? ""]
    }

    func source(_ inputs: Inputs) -> String {
        var context = base("Source", inputs)
        let status = inputs.status
        if let source = status?.source {
            context["git"] = [
                "fetched": source.lastFetched.map(Self.commit) ?? "never",
                "good": source.lastGood.map(Self.commit) ?? "none yet",
                "applied": source.lastApplied.map(Self.commit) ?? "none yet",
            ]
            context["sourceError"] = source.lastError.map { error in
                (error.commit.map { "\($0.short): " } ?? "") + error.message
            }
        }
        context["role"] = status?.role.rawValue ?? "unknown"
        context["roleReason"] = status?.roleReason
        context["runs"] = status?.runs ?? 0
        context["nextRun"] = status?.nextRunAt.map(Self.time) ?? "—"
        context["lastError"] = status?.lastError
        return render("source", context)
    }

    func notFound(_ message: String, _ inputs: Inputs) -> String {
        var context = base("Not found", inputs)
        context["message"] = message
        return render("notFound", context)
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

    static func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d UTC", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
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
