extension RedfishClient {
    /// `UpdateService/FirmwareInventory`, every member (read inline when the collection is
    /// expanded, else one GET each).
    public func firmwareInventory() async throws -> [InstalledFirmware] {
        try await run { try $0.firmwareInventory() }
    }

    /// How a started update is followed.
    public enum UpdateTracking: Hashable, Sendable {
        /// A Redfish Task (or task monitor) at this path.
        case task(String)
        /// iLO 5: no task; `UpdateService` → `Oem.Hpe.State` says. `before` is that state as
        /// read just before the POST: iLO 5 keeps showing the last update's Complete or Error
        /// until the next one gets going, so only a state other than it is this update's end.
        case hpeUpdateService(String, before: String? = nil)
        /// The BMC accepted the request and offers no way to follow it.
        case none
    }

    /// Posts `UpdateService.SimpleUpdate` with the image's URI (the BMC downloads it).
    public func startFirmwareUpdate(imageURI: String) async throws -> UpdateTracking {
        try await run { try $0.startFirmwareUpdate(imageURI: imageURI) }
    }

    /// Where the update stands now (see `RedfishConnection.updateProgress`).
    public func updateProgress(_ tracking: UpdateTracking) async throws -> UpdateProgress {
        try await run { try $0.updateProgress(tracking) }
    }

    /// Starts a SimpleUpdate and follows it until it completes, fails or `timeout` passes,
    /// calling `progress` at each change. Throws `.taskFailed` or `.timeout`. The wait runs on
    /// this client's own queue, like every other request to this BMC.
    @discardableResult
    public func updateFirmware(imageURI: String, timeout: Duration, interval: Duration = .seconds(5),
                               progress: @escaping @Sendable (UpdateProgress) -> Void = { _ in }) async throws -> UpdateProgress {
        try await run { try $0.updateFirmware(imageURI: imageURI, timeout: timeout, interval: interval, progress: progress) }
    }
}

/// The blocking work behind the client's firmware calls and `BMCDriver.updateFirmware` (the
/// applier's thread): one implementation for both.
extension RedfishConnection {
    func firmwareInventory() throws -> [InstalledFirmware] {
        let service = try get(try updateServicePath()).json ?? .null
        guard let inventory = service["FirmwareInventory"]?.link else {
            throw error(.unsupported, "the UpdateService lists no FirmwareInventory")
        }
        let members = try get(inventory).json?["Members"]?.array ?? []
        return try members.map { member in
            if member["Version"] != nil { return InstalledFirmware(json: member) }
            guard let link = member.link else { throw error(.badResponse, "\(inventory) has a member without @odata.id") }
            return InstalledFirmware(json: try get(link).json ?? .null)
        }
    }

    func startFirmwareUpdate(imageURI: String) throws -> RedfishClient.UpdateTracking {
        let servicePath = try updateServicePath()
        let service = try get(servicePath).json ?? .null
        guard let target = service[path: "Actions", "#UpdateService.SimpleUpdate", "target"]?.string else {
            throw error(.unsupported, "the UpdateService offers no SimpleUpdate action")
        }
        let response = try send(.post, target, body: .object(["ImageURI": .string(imageURI)]),
                                doing: "start the firmware update from \(imageURI)")
        if response.status == 202, let location = response.location {
            return .task(pathOf(location))
        }
        if let json = response.json, json["TaskState"] != nil || json["@odata.type"]?.string?.contains("#Task.") == true,
           let link = json.link {
            return .task(link)
        }
        if let before = UpdateProgress(hpeUpdateService: service) {
            // Only a settled state says what a later one means; another update under way says nothing.
            return .hpeUpdateService(servicePath, before: UpdateFollower.settledStates.contains(before.state) ? before.state : nil)
        }
        return .none
    }

    /// Where the update stands now. A task that has vanished (a 404 after it finished) is
    /// answered from iLO's update state when there is one.
    func updateProgress(_ tracking: RedfishClient.UpdateTracking) throws -> UpdateProgress {
        switch tracking {
        case .none:
            return UpdateProgress(phase: .completed, state: "Accepted", message: "the BMC offers no way to follow this update")
        case .hpeUpdateService(let path, _):
            guard let progress = UpdateProgress(hpeUpdateService: try get(path).json ?? .null) else {
                throw error(.badResponse, "\(path) has no Oem.Hpe.State")
            }
            return progress
        case .task(let path):
            if let response = try getIfPresent(path) {
                // A task monitor answers 202 while running and the finished task (or 200/204) after.
                if let json = response.json, json["TaskState"] != nil { return UpdateProgress(task: json) }
                return UpdateProgress(phase: response.status == 202 ? .running : .completed, state: "HTTP \(response.status)")
            }
            if let service = try? get(try updateServicePath()).json,
               let hpe = UpdateProgress(hpeUpdateService: service), hpe.phase != .running {
                return hpe
            }
            return UpdateProgress(phase: .vanished, state: "Gone", message: "\(path) no longer exists (ResourceMissingAtURI): the task finished, its result is unknown")
        }
    }

    /// Starts a SimpleUpdate and polls it every `interval` until it completes, fails or
    /// `timeout` passes, calling `progress` at each change.
    func updateFirmware(imageURI: String, timeout: Duration, interval: Duration,
                        progress: (UpdateProgress) -> Void) throws -> UpdateProgress {
        var follower = UpdateFollower(tracking: try startFirmwareUpdate(imageURI: imageURI))
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: UpdateProgress?
        while true {
            let now = try follower.poll(self)
            if now != last { progress(now) }
            last = now
            switch now.phase {
            case .completed, .vanished:
                return now
            case .failed:
                throw updateFailed(imageURI, now)
            case .running:
                if clock.now >= deadline { throw updateTimedOut(imageURI, now, after: "\(timeout)") }
                sleep(interval)
            }
        }
    }

    func updateFailed(_ imageURI: String, _ progress: UpdateProgress) -> BMCError {
        error(.taskFailed, "the firmware update from \(imageURI) failed: \(progress.state)\(progress.message.map { " (\($0))" } ?? "")")
    }

    func updateTimedOut(_ imageURI: String, _ progress: UpdateProgress, after: String) -> BMCError {
        error(.timeout, "the firmware update from \(imageURI) is still \(progress.state)\(progress.percent.map { " at \($0)%" } ?? "") after \(after)")
    }
}

/// Follows one started update, poll by poll, reading iLO 5's update state the way it means
/// it. Its whole memory is `tracking` (with the state before the POST) and `seenActive`, both
/// kept in a BMC job's row, so a follower made again after a restart reads the update as the
/// one before it did.
public struct UpdateFollower: Hashable, Sendable {
    public var tracking: RedfishClient.UpdateTracking
    /// iLO 5's state has been past Idle since the update was posted: Idle now means done.
    public var seenActive: Bool
    /// The last look showed iLO 5 settled (Idle or Complete) as it was before the POST (or in
    /// a row written before dploy kept that state), never active in between: this update's
    /// end, unseen, or the last one's still on show, or this one not started yet. Only the
    /// firmware inventory can tell (`BMCDriver.installedVersion`), and only because a job
    /// posts no flash to a component already at the baseline's version.
    public private(set) var endUnconfirmed = false

    /// iLO 5's states between updates: none of them says an update is under way.
    public static let settledStates: Set<String> = ["Idle", "Complete", "Error"]

    public init(tracking: RedfishClient.UpdateTracking, seenActive: Bool = false) {
        self.tracking = tracking
        self.seenActive = seenActive
    }

    /// Where the update stands now.
    mutating func poll(_ connection: RedfishConnection) throws -> UpdateProgress {
        var now = try connection.updateProgress(tracking)
        endUnconfirmed = false
        if case .hpeUpdateService(_, let before) = tracking {
            let settled = Self.settledStates.contains(now.state)
            if !settled { seenActive = true }
            // A flash shorter than the time to the first look goes from the state before the
            // POST to its end unseen: a Complete or Error that the state before it was not is
            // this update's end.
            let endsThisUpdate = seenActive || (before != nil && now.state != before && now.phase != .running)
            if !endsThisUpdate {
                endUnconfirmed = settled && now.state != "Error"
                now.phase = .running
            }
            // Some iLO 5 versions go straight back to Idle when the flash is done.
            if seenActive && now.state == "Idle" { now.phase = .completed }
        }
        return now
    }
}

extension RedfishClient.UpdateTracking {
    /// The tracking as one line of text, as a BMC job's row keeps it: `task PATH`,
    /// `hpe PATH`, `hpe PATH from STATE` or `none`.
    public var text: String {
        switch self {
        case .task(let path): "task \(path)"
        case .hpeUpdateService(let path, let before): "hpe \(path)" + (before.map { " from \($0)" } ?? "")
        case .none: "none"
        }
    }

    /// The tracking `text` wrote; nil for anything else.
    public init?(text: String) {
        if text == "none" { self = .none; return }
        guard let space = text.firstIndex(of: " ") else { return nil }
        var path = String(text[text.index(after: space)...])
        guard path.hasPrefix("/") else { return nil }
        switch text[..<space] {
        case "task":
            self = .task(path)
        case "hpe":
            var before: String?
            if let from = path.range(of: " from ", options: .backwards),
               UpdateFollower.settledStates.contains(String(path[from.upperBound...])) {
                before = String(path[from.upperBound...])
                path = String(path[..<from.lowerBound])
            }
            self = .hpeUpdateService(path, before: before)
        default:
            return nil
        }
    }
}
