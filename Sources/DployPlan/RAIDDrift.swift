import DploySpec

/// One controller's RAID change, as a plan step carries it: everything the BMC request needs,
/// so apply reads nothing but the plan (and the job worker nothing but its row).
public struct RAIDChange: Hashable, Sendable, Codable {
    /// `HPE SR416i-a Gen10+ (Slot 12)`
    public var controller: String
    public var interface: ObservedController.Interface
    /// SmartStorageConfig's settings resource, or the DMTF Volumes collection.
    public var target: String
    /// Logical drives left as they are (SmartStorageConfig sends them again in its array).
    public var keep: [ObservedLogicalDrive]
    /// Logical drives deleted (changed ones are deleted and created anew): their data is lost.
    public var delete: [ObservedLogicalDrive]
    public var create: [LogicalDriveSpec]
    /// DMTF: each created volume's data and spare drives' `@odata.id`, by its name.
    public var drivePaths: [String: [String]]
    public var sparePaths: [String: [String]]
    /// The settings' ETag as the plan read it (SmartStorageConfig), sent as `If-Match`.
    public var ifMatch: String?

    public init(controller: String, interface: ObservedController.Interface, target: String, keep: [ObservedLogicalDrive],
                delete: [ObservedLogicalDrive], create: [LogicalDriveSpec], drivePaths: [String: [String]] = [:],
                sparePaths: [String: [String]] = [:], ifMatch: String?) {
        self.controller = controller
        self.interface = interface
        self.target = target
        self.keep = keep
        self.delete = delete
        self.create = create
        self.drivePaths = drivePaths
        self.sparePaths = sparePaths
        self.ifMatch = ifMatch
    }

    /// Deleting a logical drive destroys what it holds.
    public var isDestructive: Bool { !delete.isEmpty }

    /// When the controller takes it.
    public var when: String { interface == .smartStorageConfig ? "applies at next reboot" : "applies at once" }

    /// One line per logical drive deleted or created, as `dploy plan` prints them.
    public var lines: [String] {
        delete.map { "bmc     raid \(controller): delete \($0.text) (DESTROYS DATA)" }
            + create.map { "bmc     raid \(controller): create \($0.description) (\(when))" }
    }
}

/// Desired `storage.logicalDrives` × the controllers the BMC reports → one RAID step per
/// controller that differs. Creating on free drives is an ordinary step. Deleting or
/// changing a logical drive that exists destroys its data: such a step is planned only when
/// the machine allows it (`allowDestructive: true`, or a reinstall of a newer generation that
/// follows); otherwise the destructive part is withheld with a reason and a note, and what
/// needs no destruction still goes. What one controller refuses never fails the fleet's plan.
enum RAIDDrift {
    struct Outcome {
        var reasons: [Reason] = []
        var actions: [Action] = []
        var notes: [Reason] = []
    }

    /// Why destruction is allowed for this machine, or nil when it is not.
    enum Permission {
        case allowDestructive
        case reinstall(generation: Int)
    }

    static let problemsShown = 5

    static func plan(machine: String, desired: StorageSettings, observed: ObservedStorage, permission: Permission?,
                     location: SourceLocation) -> Outcome {
        var outcome = Outcome()
        var problems: [String] = []
        let at = "\(location.file):\(location.line):\(location.column)"
        guard !observed.controllers.isEmpty else {
            let message = "RAID withheld: \(at): the BMC reports no RAID controller with logical drives to configure"
            outcome.reasons.append(Reason(.raidInvalid, message))
            outcome.notes.append(Reason(.raidInvalid, "\(machine): \(message)"))
            return outcome
        }
        // Each desired logical drive to the controller it belongs on.
        var assigned: [Int: [LogicalDriveSpec]] = [:]
        for drive in desired.logicalDrives {
            if let index = controllerIndex(for: drive, in: observed.controllers, problems: &problems) {
                assigned[index, default: []].append(drive)
            }
        }
        var steps: [RAIDChange] = [], withheld: [String] = [], pending: [String] = []
        for (index, controller) in observed.controllers.enumerated() {
            let wanted = assigned[index] ?? []
            let now = diff(wanted, controller.logicalDrives)
            if now.delete.isEmpty && now.create.isEmpty { continue }
            if let next = controller.pending, next != controller.logicalDrives {
                let then = diff(wanted, next)
                if then.delete.isEmpty && then.create.isEmpty {
                    pending.append("\(controller.name): " + (now.delete.map { "delete \($0.text)" } + now.create.map { "create \($0.description)" })
                        .joined(separator: ", "))
                    continue
                }
            }
            var delete = now.delete, create = now.create, keep = now.keep
            if !delete.isEmpty && permission == nil {
                withheld.append("\(controller.name): " + delete.map { "delete \($0.text)" }.joined(separator: ", "))
                // Kept as they are; what would replace a changed one waits with its deletion.
                keep += delete
                let names = Set(delete.map(\.name))
                create.removeAll { names.contains($0.name) }
                delete = []
            }
            guard let change = resolve(controller, keep: keep, delete: delete, create: create, problems: &problems),
                  !change.delete.isEmpty || !change.create.isEmpty else { continue }
            steps.append(change)
        }
        guard problems.isEmpty else {
            let shown = problems.prefix(problemsShown).joined(separator: "; ")
            let more = problems.count > problemsShown ? "; … and \(problems.count - problemsShown) more" : ""
            let message = "RAID withheld: \(at): \(shown)\(more)"
            outcome.reasons.append(Reason(.raidInvalid, message))
            outcome.notes.append(Reason(.raidInvalid, "\(machine): \(message)"))
            return outcome
        }
        for step in steps {
            let code: Reason.Code = step.isDestructive ? .raidDestructive : .raidDrift
            let why = switch permission {
            case .allowDestructive?: " (allowDestructive: true)"
            case .reinstall(let generation)?: " (generation \(generation) reinstalls after it)"
            case nil: ""
            }
            let summary = (step.delete.map { "delete \($0.text)" } + step.create.map { "create \($0.description)" }).joined(separator: ", ")
            outcome.reasons.append(Reason(code, "RAID \(step.controller): \(summary)"
                                          + (step.isDestructive ? ", destroys data\(why)" : "") + " (\(step.when))"))
            outcome.actions.append(.configureRAID(machine: machine, step, reason: Reason(code, step.isDestructive
                ? "\(step.delete.count) logical drive\(step.delete.count == 1 ? "" : "s") deleted: destroys data\(why)"
                : "\(step.create.count) logical drive\(step.create.count == 1 ? "" : "s") to create")))
        }
        if !withheld.isEmpty {
            let message = "RAID changes that destroy data withheld: \(withheld.joined(separator: "; ")); "
                + "set allowDestructive: true on the machine (\(at)), or raise its generation to reinstall it"
            outcome.reasons.append(Reason(.raidDestructiveWithheld, message))
            outcome.notes.append(Reason(.raidDestructiveWithheld, "\(machine): \(message)"))
        }
        if !pending.isEmpty {
            outcome.notes.append(Reason(.raidPendingReboot, "\(machine): RAID \(pending.joined(separator: "; ")) pending: applies at next reboot"))
        }
        return outcome
    }

    /// Whether the controllers report exactly the desired logical drives, built (not pending
    /// for the next reboot): when a RAID rollout counts the machine done.
    static func built(_ desired: StorageSettings, on observed: ObservedStorage) -> Bool {
        var problems: [String] = []
        var assigned: [Int: [LogicalDriveSpec]] = [:]
        for drive in desired.logicalDrives {
            guard let index = controllerIndex(for: drive, in: observed.controllers, problems: &problems) else { return false }
            assigned[index, default: []].append(drive)
        }
        return observed.controllers.indices.allSatisfy { index in
            let difference = diff(assigned[index] ?? [], observed.controllers[index].logicalDrives)
            return difference.delete.isEmpty && difference.create.isEmpty
        }
    }

    /// The controller a desired logical drive belongs on: the one that has it by name, else
    /// the one holding its drives, else (by count) the first with enough drives of its media.
    static func controllerIndex(for drive: LogicalDriveSpec, in controllers: [ObservedController], problems: inout [String]) -> Int? {
        if let index = controllers.firstIndex(where: { $0.logicalDrives.contains { $0.name == drive.name } }) { return index }
        switch drive.drives {
        case .locations(let locations):
            let all = locations + drive.spare
            if let index = controllers.firstIndex(where: { controller in all.allSatisfy { location in controller.drives.contains { $0.location == location } } }) {
                return index
            }
            let known = Set(controllers.flatMap(\.drives).map(\.location))
            let missing = all.filter { !known.contains($0) }
            let listed = controllers.flatMap(\.drives).map(\.location).sorted()
            problems.append("'\(drive.name)': " + (missing.isEmpty
                ? "its drives \(all.joined(separator: ", ")) are not behind one controller"
                : "no controller has drive\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) (the BMC lists \(Plan.list(listed, limit: 12)))"))
            return nil
        case .count(let count, let media):
            // The first with enough free drives of the media, else the first with enough at all
            // (whose drives a destructive step may free).
            if let index = controllers.firstIndex(where: { controller in controller.freeDrives.count { $0.media == media } >= count })
                ?? controllers.firstIndex(where: { controller in controller.drives.count { $0.media == media } >= count }) {
                return index
            }
            problems.append("'\(drive.name)': no controller has \(count) \(media.rawValue) drives")
            return nil
        }
    }

    /// What differs between the desired logical drives of one controller and the ones it has.
    static func diff(_ wanted: [LogicalDriveSpec], _ existing: [ObservedLogicalDrive])
        -> (keep: [ObservedLogicalDrive], delete: [ObservedLogicalDrive], create: [LogicalDriveSpec]) {
        var keep: [ObservedLogicalDrive] = [], delete: [ObservedLogicalDrive] = [], create: [LogicalDriveSpec] = []
        let byName = Dictionary(wanted.map { ($0.name, $0) }) { first, _ in first }
        for drive in existing {
            if let spec = byName[drive.name], matches(spec, drive) {
                keep.append(drive)
            } else {
                delete.append(drive)
            }
        }
        let kept = Set(keep.map(\.name))
        create = wanted.filter { !kept.contains($0.name) }
        return (keep, delete, create)
    }

    /// Whether an existing logical drive is what the spec asks for: level, drives (the same
    /// set, or as many as counted) and spares.
    static func matches(_ spec: LogicalDriveSpec, _ drive: ObservedLogicalDrive) -> Bool {
        guard drive.raid == spec.raid, Set(drive.spare) == Set(spec.spare) else { return false }
        switch spec.drives {
        case .locations(let locations): return Set(locations) == Set(drive.drives)
        case .count(let count, _): return drive.drives.count == count
        }
    }

    /// Checks the creations against the drives that will be free (free now, or freed by this
    /// step's deletions) and, for DMTF volumes, picks counted drives and finds each drive's
    /// link. Nil when a creation cannot be made; the problem says why.
    static func resolve(_ controller: ObservedController, keep: [ObservedLogicalDrive], delete: [ObservedLogicalDrive],
                        create: [LogicalDriveSpec], problems: inout [String]) -> RAIDChange? {
        let busy = Set(keep.flatMap { $0.drives + $0.spare })
        var free = controller.drives.filter { !busy.contains($0.location) }
        var change = RAIDChange(controller: controller.name, interface: controller.interface, target: controller.target,
                                keep: keep, delete: delete, create: [],
                                ifMatch: controller.interface == .smartStorageConfig ? controller.settingsETag : nil)
        var ok = true
        for drive in create {
            if let levels = controller.raidLevels, !levels.contains(drive.raid) {
                problems.append("'\(drive.name)': \(controller.name) does not create \(drive.raid.rawValue) "
                                + "(Volumes/Capabilities allows \(levels.map(\.rawValue).joined(separator: ", ")))")
                ok = false
                continue
            }
            var data: [ObservedDrive] = []
            switch drive.drives {
            case .locations(let locations):
                for location in locations {
                    guard let index = free.firstIndex(where: { $0.location == location }) else {
                        let owner = keep.first { $0.drives.contains(location) || $0.spare.contains(location) }
                        problems.append("'\(drive.name)': drive \(location) is " + (owner.map { "in logical drive '\($0.name)', which stays" } ?? "not free"))
                        ok = false
                        continue
                    }
                    data.append(free.remove(at: index))
                }
            case .count(let count, let media):
                let matching = free.filter { $0.media == media }.sorted { $0.location < $1.location }
                guard matching.count >= count else {
                    problems.append("'\(drive.name)': \(controller.name) has \(matching.count) free \(media.rawValue) drives, \(count) wanted")
                    ok = false
                    continue
                }
                data = Array(matching.prefix(count))
                free.removeAll { data.contains($0) }
            }
            var spares: [ObservedDrive] = []
            for location in drive.spare {
                guard let index = free.firstIndex(where: { $0.location == location }) else {
                    problems.append("'\(drive.name)': spare drive \(location) is not free")
                    ok = false
                    continue
                }
                spares.append(free.remove(at: index))
            }
            if controller.interface == .volumes {
                change.drivePaths[drive.name] = data.compactMap(\.path)
                change.sparePaths[drive.name] = spares.compactMap(\.path)
            }
            change.create.append(drive)
        }
        return ok ? change : nil
    }
}
