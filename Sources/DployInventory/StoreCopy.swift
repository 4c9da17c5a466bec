import DploySpec
import Foundation

/// Every row of a store, in key order: what `dploy store copy` moves from one store to
/// another, and compares afterwards, row by row.
public struct StoreSnapshot: Equatable, Sendable {
    var machines: [MachineRow] = []
    var hardware: [HardwareRow] = []
    var installs: [InstallRow] = []
    var events: [EventRow] = []
    var bmcReadings: [BMCReadingRow] = []
    var biosAttributes: [BIOSAttributesRow] = []
    var taskRuns: [TaskRunRow] = []
    var bmcJobs: [BMCJobRow] = []
    var rolloutResumes: [RolloutResumeRow] = []
    /// The install callbacks' key of a shared store: without it a copy's controllers would
    /// make a new one and refuse the tokens already handed out to installers.
    var sharedSecrets: [SharedSecretRow] = []

    /// Rows per table, as `dploy store copy` reports them.
    public var counts: [(table: String, rows: Int)] {
        [("machine", machines.count), ("hardware", hardware.count), ("install", installs.count), ("event", events.count),
         ("bmcReading", bmcReadings.count), ("biosAttributes", biosAttributes.count), ("taskRun", taskRuns.count), ("bmcJob", bmcJobs.count),
         ("rolloutResume", rolloutResumes.count), ("sharedSecret", sharedSecrets.count)]
    }

    /// The first row that differs from `source`'s, named by table and key; nil when none does.
    func firstDifference(from source: StoreSnapshot) -> String? {
        func compare<Row: Equatable>(_ table: String, _ mine: [Row], _ theirs: [Row], key: (Row) -> String) -> String? {
            for (index, row) in mine.enumerated() {
                if index >= theirs.count { return "\(table) row '\(key(row))' (not in the source)" }
                if theirs[index] != row { return "\(table) row '\(key(row))'" }
            }
            return theirs.count > mine.count ? "\(table) row '\(key(theirs[mine.count]))' (missing)" : nil
        }
        return compare("machine", machines, source.machines, key: \.mac)
            ?? compare("hardware", hardware, source.hardware, key: \.mac)
            ?? compare("install", installs, source.installs, key: { "\($0.id ?? 0)" })
            ?? compare("event", events, source.events, key: { "\($0.id ?? 0)" })
            ?? compare("bmcReading", bmcReadings, source.bmcReadings, key: \.mac)
            ?? compare("biosAttributes", biosAttributes, source.biosAttributes, key: \.mac)
            ?? compare("taskRun", taskRuns, source.taskRuns, key: { "\($0.task) \($0.machine)" })
            ?? compare("bmcJob", bmcJobs, source.bmcJobs, key: { "\($0.id ?? 0)" })
            ?? compare("rolloutResume", rolloutResumes, source.rolloutResumes, key: \.name)
            // Named, never shown: the value is a key.
            ?? compare("sharedSecret", sharedSecrets, source.sharedSecrets, key: \.name)
    }
}

/// `dploy store copy`: every row of one store into another, empty one.
public enum StoreCopy {
    /// Copies `source` into `destination`, which must be empty, then reads the destination
    /// back and compares it with what was read, row by row. Returns what was copied.
    @discardableResult
    public static func copy(from source: any Store, to destination: any Store) throws -> StoreSnapshot {
        let snapshot = try source.snapshot()
        try destination.load(snapshot)
        if let difference = try destination.snapshot().firstDifference(from: snapshot) {
            throw StoreError.copyDiffers(difference)
        }
        return snapshot
    }
}
