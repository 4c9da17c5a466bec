import DploySpec

/// What the applier asks of machines' BMCs. DployApply does not talk Redfish itself: the
/// controller hands it an implementation (DployBMC over the fleet's specs and secrets), and
/// tests a recording one. Calls block; the applier runs on its own thread.
public protocol BMCActions {
    /// Boot from the network once, at the next reset.
    func bootOnceFromNetwork(machine: String) throws
    /// Power on, off or cycle, with a reset type the BMC allows.
    func power(machine: String, _ action: PowerAction) throws
}
