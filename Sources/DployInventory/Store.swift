import DploySpec
import Foundation

/// Observed state, kept between runs. SQLite (`SQLiteStore`) is the embedded default; a
/// PostgreSQL store for several controllers will implement the same protocol.
public protocol Store: Sendable {
    func machines() throws -> [ObservedMachine]
    func machine(_ mac: MACAddress) throws -> ObservedMachine?

    /// A machine spoke to dploy (booted, reported, called back).
    func recordSeen(_ mac: MACAddress, address: String?, at: Date) throws
    func recordHardware(_ mac: MACAddress, _ hardware: Hardware, at: Date) throws

    /// The machine booted the installer for `generation`.
    func installStarted(_ mac: MACAddress, generation: Int, at: Date) throws
    /// The installer called back: `generation` is installed; the next boot is from disk.
    func installFinished(_ mac: MACAddress, generation: Int, at: Date) throws
    func installFailed(_ mac: MACAddress, generation: Int, reason: String, at: Date) throws
    func installAttempts(_ mac: MACAddress) throws -> [InstallAttempt]
    /// The newest installed generation of every machine that has one.
    func installedGenerations() throws -> [MACAddress: Int]
    /// Every machine's most recent install attempt: running, finished or failed.
    func latestAttempts() throws -> [MACAddress: InstallAttempt]

    func record(_ event: MachineEvent) throws
    /// Newest first; all machines when `mac` is nil.
    func events(for mac: MACAddress?, limit: Int) throws -> [MachineEvent]
    /// Each machine's newest event, for lists of many machines.
    func latestEvents() throws -> [MACAddress: MachineEvent]

    /// Each machine's newest BMC reading replaces its previous one.
    func recordBMCReadings(_ readings: [BMCRecord]) throws
    func bmcReadings() throws -> [MACAddress: BMCRecord]

    /// A consistent copy of the whole store, taken while it is in use.
    func backup(to path: String) throws
}
