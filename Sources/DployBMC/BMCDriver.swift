import DploySpec

/// The blocking face of a BMC, for the applier: it runs on its own thread and does its other
/// I/O (files, DHCP reloads) the same way, so it calls the BMC there too instead of bridging
/// to async and parking a thread of Swift's cooperative pool on a semaphore.
/// Not Sendable: one applier, one thread.
public final class BMCDriver {
    private let connection: RedfishConnection

    public init(endpoint: BMCEndpoint, options: RedfishOptions = RedfishOptions(), warnings: BMCWarnings? = nil) {
        connection = RedfishConnection(endpoint: endpoint, options: options)
        if endpoint.tls.insecure {
            warnings?.once(key: "insecure \(endpoint.address)",
                           "\(endpoint.address): 'bmc.insecure: true': the certificate is not checked, anyone on the path can read the BMC password")
        }
    }

    deinit { connection.close() }

    public func power() throws -> PowerState { try connection.system().power }

    @discardableResult
    public func setPower(_ action: PowerAction) throws -> PowerResult { try connection.setPower(action) }

    public func bootOnce(from target: BootTarget = .pxe) throws { try connection.bootOnce(from: target) }

    /// Starts `UpdateService.SimpleUpdate` with `imageURI` and follows it (task, task monitor or
    /// iLO 5's update state) every `interval` until done, failed (`.taskFailed`) or `timeout`
    /// (`.timeout`), calling `progress` at each change.
    @discardableResult
    public func updateFirmware(imageURI: String, timeout: Duration, interval: Duration = .seconds(5),
                               progress: (UpdateProgress) -> Void = { _ in }) throws -> UpdateProgress {
        try connection.updateFirmware(imageURI: imageURI, timeout: timeout, interval: interval, progress: progress)
    }

    /// Posts `UpdateService.SimpleUpdate` and returns how to follow the update, without
    /// waiting: a BMC job keeps the tracking in its row and polls with `poll`.
    public func startFirmwareUpdate(imageURI: String) throws -> RedfishClient.UpdateTracking {
        try connection.startFirmwareUpdate(imageURI: imageURI)
    }

    /// One look at a started update (its follower remembers what iLO 5's state meant so far).
    public func poll(_ follower: inout UpdateFollower) throws -> UpdateProgress {
        try follower.poll(connection)
    }

    /// The version the firmware inventory reports for the component named `component` (the
    /// first of that name, as the observer reads it); nil when it lists none.
    public func installedVersion(of component: String) throws -> String? {
        try connection.firmwareInventory().first { $0.name == component }?.version
    }

    /// iLO's own update state (`UpdateService` → `Oem.Hpe.State`) and the path it is read
    /// at; nil on a BMC without one. What a job interrupted while posting is followed by.
    public func hpeUpdateState() throws -> (path: String, progress: UpdateProgress)? {
        let path = try connection.updateServicePath()
        return UpdateProgress(hpeUpdateService: try connection.get(path).json ?? .null).map { (path, $0) }
    }

    /// The errors `updateFirmware` throws, for a caller that polls by itself.
    public func updateFailed(_ imageURI: String, _ progress: UpdateProgress) -> BMCError {
        connection.updateFailed(imageURI, progress)
    }

    public func updateTimedOut(_ imageURI: String, _ progress: UpdateProgress, after: String) -> BMCError {
        connection.updateTimedOut(imageURI, progress, after: after)
    }

    /// Writes BIOS attributes to the pending settings, for the next reboot, with `If-Match:
    /// ifMatch` (nil: the ETag read just before); a 412 (the settings changed since that
    /// ETag was read) is an error.
    public func setBIOSAttributes(_ attributes: [String: BIOSValue], ifMatch: String?) throws {
        try connection.setBIOSAttributes(attributes, ifMatch: ifMatch)
    }

    /// The machine's RAID controllers, logical and physical drives.
    public func storage() throws -> ObservedStorage { try connection.storage() }

    /// One PUT of the whole `LogicalDrives` array to a SmartStorageConfig settings resource,
    /// applied by the controller at the next reboot (see `RedfishConnection.writeSmartStorageConfig`).
    public func writeSmartStorageConfig(_ settings: String, keep: [ObservedLogicalDrive], delete: [ObservedLogicalDrive],
                                        create: [LogicalDriveSpec], ifMatch: String?) throws {
        try connection.writeSmartStorageConfig(settings, keep: keep, delete: delete, create: create, ifMatch: ifMatch)
    }

    /// POSTs one DMTF volume, built from the drives at these `@odata.id`s.
    public func createVolume(in collection: String, _ drive: LogicalDriveSpec, drives: [String], spares: [String]) throws {
        try connection.createVolume(in: collection, drive, drives: drives, spares: spares)
    }

    /// DELETEs one DMTF volume.
    public func deleteVolume(_ path: String) throws { try connection.deleteVolume(path) }
}
