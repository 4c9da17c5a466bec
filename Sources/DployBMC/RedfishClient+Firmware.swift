extension RedfishClient {
    /// `UpdateService/FirmwareInventory`, every member (read inline when the collection is
    /// expanded, else one GET each).
    public func firmwareInventory() async throws -> [InstalledFirmware] {
        try await run { connection in
            let service = try connection.get(try connection.updateServicePath()).json ?? .null
            guard let inventory = service["FirmwareInventory"]?.link else {
                throw connection.error(.unsupported, "the UpdateService lists no FirmwareInventory")
            }
            let members = try connection.get(inventory).json?["Members"]?.array ?? []
            return try members.map { member in
                if member["Version"] != nil { return InstalledFirmware(json: member) }
                guard let link = member.link else { throw connection.error(.badResponse, "\(inventory) has a member without @odata.id") }
                return InstalledFirmware(json: try connection.get(link).json ?? .null)
            }
        }
    }

    /// How a started update is followed.
    public enum UpdateTracking: Hashable, Sendable {
        /// A Redfish Task (or task monitor) at this path.
        case task(String)
        /// iLO 5: no task; `UpdateService` → `Oem.Hpe.State` says.
        case hpeUpdateService(String)
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
        if UpdateProgress(hpeUpdateService: service) != nil { return .hpeUpdateService(servicePath) }
        return .none
    }

    /// Where the update stands now. A task that has vanished (a 404 after it finished) is
    /// answered from iLO's update state when there is one.
    func updateProgress(_ tracking: RedfishClient.UpdateTracking) throws -> UpdateProgress {
        switch tracking {
        case .none:
            return UpdateProgress(phase: .completed, state: "Accepted", message: "the BMC offers no way to follow this update")
        case .hpeUpdateService(let path):
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
        let tracking = try startFirmwareUpdate(imageURI: imageURI)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var last: UpdateProgress?
        var seenActive = false
        while true {
            var now = try updateProgress(tracking)
            // iLO 5 may still say Idle (or the last update's Complete) just after the POST.
            if case .hpeUpdateService = tracking {
                if now.state != "Idle" && now.state != "Complete" && now.state != "Error" { seenActive = true }
                if !seenActive && now.phase != .running { now.phase = .running }
                // Some iLO 5 versions go straight back to Idle when the flash is done.
                if seenActive && now.state == "Idle" { now.phase = .completed }
            }
            if now != last { progress(now) }
            last = now
            switch now.phase {
            case .completed, .vanished:
                return now
            case .failed:
                throw error(.taskFailed, "the firmware update from \(imageURI) failed: \(now.state)\(now.message.map { " (\($0))" } ?? "")")
            case .running:
                if clock.now >= deadline {
                    throw error(.timeout, "the firmware update from \(imageURI) is still \(now.state)\(now.percent.map { " at \($0)%" } ?? "") after \(timeout)")
                }
                sleep(interval)
            }
        }
    }
}
