import DployPlan
import DploySpec

/// What the applier asks of machines' BMCs. DployApply does not talk Redfish itself: the
/// controller hands it an implementation (DployBMC over the fleet's specs and secrets), and
/// tests a recording one. Calls block; the applier runs on its own thread.
public protocol BMCActions {
    /// Boot from the network once, at the next reset.
    func bootOnceFromNetwork(machine: String) throws
    /// Power on, off or cycle, with a reset type the BMC allows.
    func power(machine: String, _ action: PowerAction) throws
    /// Install one firmware component's image and wait until the BMC says it is done or
    /// failed (throws), within a bounded time.
    func updateFirmware(machine: String, _ target: FirmwareTarget) throws
    /// Write BIOS attributes to the pending settings (for the next reboot), as one request
    /// with `If-Match: ifMatch`, the pending settings' ETag the plan was made from: it fails
    /// (412) when they changed since the plan read them. nil (the BMC gave no ETag): the
    /// access reads the ETag just before writing, which guards only that short window.
    func setBIOSAttributes(machine: String, _ changes: [BIOSChange], ifMatch: String?) throws
}

extension BMCActions {
    /// BMC access that cannot flash firmware refuses the step by name rather than skipping it.
    public func updateFirmware(machine: String, _ target: FirmwareTarget) throws {
        throw BMCStepRefused("this BMC access cannot update firmware (\(target.component))")
    }

    /// BMC access that cannot write BIOS settings refuses the step by name rather than skipping it.
    public func setBIOSAttributes(machine: String, _ changes: [BIOSChange], ifMatch: String?) throws {
        throw BMCStepRefused("this BMC access cannot set BIOS attributes (\(changes.map(\.name).joined(separator: ", ")))")
    }
}

/// Where the applier hands long BMC steps (firmware, BIOS: `Action.jobStep`) instead of
/// running them: the controller records each as a job in the store for its worker pool, so
/// an apply never waits on a BMC. Implementations must not block beyond recording the job.
public protocol BMCJobQueue {
    /// Records the step as a queued job and returns its id; nil when the machine already
    /// has that step queued or running (nothing recorded).
    func enqueue(_ action: Action) throws -> Int64?
}

/// A BMC step the applier or the BMC access cannot run as planned; it fails that machine's
/// step like any BMC error.
public struct BMCStepRefused: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
