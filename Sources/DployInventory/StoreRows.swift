import DploySpec
import Foundation
import GRDB
import Synchronization

// Rows as stored. Public types (`ObservedMachine`, `Hardware`, …) are built from them, so
// the schema can change without the API.

struct MachineRow: StoreRow {
    static let databaseTableName = "machine"
    var mac: String
    var firstSeen: Date
    var lastSeen: Date
    var address: String?
    var state: MachineState
    var installedGeneration: Int?

    func observed(hardware: HardwareRow?) throws -> ObservedMachine {
        guard let mac = MACAddress(mac) else { throw StoreError.corruptRow("machine", mac, "not a MAC address") }
        return ObservedMachine(mac: mac, firstSeen: firstSeen, lastSeen: lastSeen, address: address,
                               state: state, installedGeneration: installedGeneration,
                               hardware: try hardware?.hardware(), hardwareReportedAt: hardware?.reportedAt,
                               hardwareChanges: hardware?.changes.map { $0.split(separator: "\n").map(String.init) } ?? [])
    }
}

struct HardwareRow: StoreRow {
    static let databaseTableName = "hardware"
    var mac: String
    var reportedAt: Date
    /// `Hardware` as JSON: its shape follows what agents report and grows without migrations.
    var json: String
    /// What this report changed against the one before it, one line per part; nil when
    /// nothing did, or when it is the first.
    var changes: String?

    func hardware() throws -> Hardware {
        do {
            return try JSONDecoder().decode(Hardware.self, from: Data(json.utf8))
        } catch {
            throw StoreError.corruptRow("hardware", mac, "its report is not the JSON dploy writes (\(error))")
        }
    }
}

struct InstallRow: StoreRow {
    static let databaseTableName = "install"
    var id: Int64?
    var mac: String
    var generation: Int
    var startedAt: Date
    var finishedAt: Date?
    var failedAt: Date?
    var failure: String?

    init(mac: String, generation: Int, startedAt: Date) {
        self.mac = mac
        self.generation = generation
        self.startedAt = startedAt
    }

    var attempt: InstallAttempt? {
        MACAddress(mac).map {
            InstallAttempt(mac: $0, generation: generation, startedAt: startedAt, finishedAt: finishedAt, failedAt: failedAt,
                           failure: failure)
        }
    }
}

struct EventRow: StoreRow {
    static let databaseTableName = "event"
    var id: Int64?
    var mac: String?
    var at: Date
    var kind: String
    var message: String

    init(mac: String?, at: Date, kind: String, message: String) {
        self.mac = mac
        self.at = at
        self.kind = kind
        self.message = Self.capped(message)
    }

    init(_ event: MachineEvent) {
        self.init(mac: event.mac?.description, at: event.at, kind: event.kind, message: event.message)
    }

    /// Event text is capped: much of it quotes what machines report about themselves.
    static let maximumMessageCharacters = 2000

    static func capped(_ message: String) -> String {
        message.count <= maximumMessageCharacters ? message : String(message.prefix(maximumMessageCharacters - 1)) + "…"
    }
}

struct BMCReadingRow: StoreRow {
    static let databaseTableName = "bmcReading"
    var mac: String
    var readAt: Date
    var power: String?
    var health: String?
    var model: String?
    var serial: String?
    var biosVersion: String?
    var bmcFirmware: String?
    var error: String?
    /// The firmware inventory (`ObservedFirmware`) as JSON; nil when it was not read.
    var firmware: String?
    var smartArrayControllers: Int?

    init(_ record: BMCRecord) {
        mac = record.mac.description
        readAt = record.readAt
        power = record.power
        health = record.health
        model = record.model
        serial = record.serial
        biosVersion = record.biosVersion
        bmcFirmware = record.bmcFirmware
        error = record.error
        // Encoding a struct of strings cannot fail.
        firmware = record.firmware.flatMap { try? JSONEncoder().encode($0) }.map { String(decoding: $0, as: UTF8.self) }
        smartArrayControllers = record.smartArrayControllers
    }

    func record() throws -> BMCRecord {
        guard let address = MACAddress(mac) else { throw StoreError.corruptRow("bmcReading", mac, "not a MAC address") }
        let inventory: ObservedFirmware?
        do {
            inventory = try firmware.map(Self.decodeFirmware)
        } catch {
            throw StoreError.corruptRow("bmcReading", mac, "its firmware inventory is not the JSON dploy writes (\(error))")
        }
        return BMCRecord(mac: address, readAt: readAt, power: power, health: health, model: model, serial: serial,
                         biosVersion: biosVersion, bmcFirmware: bmcFirmware, error: error, firmware: inventory,
                         smartArrayControllers: smartArrayControllers)
    }

    /// Firmware inventories decoded, by their JSON. Every reconcile reads every reading (the
    /// metrics' condition counts), and decoding a thousand inventories was a fifth of a run's
    /// CPU during a rollout; a fleet's BMCs report few distinct ones (a model and its versions).
    private static let decodedFirmware = Mutex<[String: ObservedFirmware]>([:])
    private static let decodedFirmwareLimit = 1024

    private static func decodeFirmware(_ json: String) throws -> ObservedFirmware {
        if let known = decodedFirmware.withLock({ $0[json] }) { return known }
        let decoded = try JSONDecoder().decode(ObservedFirmware.self, from: Data(json.utf8))
        decodedFirmware.withLock { known in
            // A fleet of a thousand distinct inventories is not one this helps: start over.
            if known.count >= decodedFirmwareLimit { known.removeAll(keepingCapacity: true) }
            known[json] = decoded
        }
        return decoded
    }
}

/// One machine's BIOS attribute names and types (`biosAttributes`, PostgreSQL's
/// `bios_attributes`), as `BIOSAttributeTypes.text`.
struct BIOSAttributesRow: StoreRow {
    static let databaseTableName = "biosAttributes"
    var mac: String
    var attributes: String

    /// Read back, sharing one copy between rows of the same text (`decoded`, by text): 10,000
    /// machines of three BIOS models are three lists in memory, not 10,000.
    static func read(_ rows: some Sequence<BIOSAttributesRow>) throws -> [MACAddress: BIOSAttributeTypes] {
        var decoded: [String: BIOSAttributeTypes] = [:]
        var result: [MACAddress: BIOSAttributeTypes] = [:]
        for row in rows {
            guard let mac = MACAddress(row.mac) else { throw StoreError.corruptRow("biosAttributes", row.mac, "not a MAC address") }
            if let known = decoded[row.attributes] {
                result[mac] = known
            } else if let types = BIOSAttributeTypes(text: row.attributes) {
                decoded[row.attributes] = types
                result[mac] = types
            } else {
                throw StoreError.corruptRow("biosAttributes", row.mac, "not the NAME:TYPE lines dploy writes")
            }
        }
        return result
    }
}

struct TaskRunRow: StoreRow {
    static let databaseTableName = "taskRun"
    var id: Int64?
    var task: String
    var revision: String
    var machine: String
    var mac: String?
    var action: TaskActionKind
    var state: TaskRunState
    var startedAt: Date?
    var finishedAt: Date?
    var deadline: Date?
    var exitCode: Int?
    var output: String?
    var error: String?

    init(_ run: TaskRun) {
        task = run.key.task
        revision = run.key.revision
        machine = run.key.machine
        mac = run.mac?.description
        action = run.action
        state = run.state
        startedAt = run.startedAt
        finishedAt = run.finishedAt
        deadline = run.deadline
        exitCode = run.exitCode
        output = run.output
        error = run.error
    }

    var run: TaskRun {
        TaskRun(key: TaskRunKey(task: task, revision: revision, machine: machine), mac: mac.flatMap(MACAddress.init),
                action: action, state: state, startedAt: startedAt, finishedAt: finishedAt,
                deadline: deadline, exitCode: exitCode, output: output, error: error)
    }
}

// Stored by their raw values. A value this dploy does not know (a newer dploy wrote it, or
// a hand edit) is a decoding error that names the column, never read as some other state.
extension MachineState: DatabaseValueConvertible {}
extension TaskRunState: DatabaseValueConvertible {}
extension TaskActionKind: DatabaseValueConvertible {}

extension BMCReadingRow {
    /// A reading as another store holds it, column by column.
    init(mac: String, readAt: Date, power: String?, health: String?, model: String?, serial: String?, biosVersion: String?,
         bmcFirmware: String?, error: String?, firmware: String?, smartArrayControllers: Int?) {
        self.mac = mac
        self.readAt = readAt
        self.power = power
        self.health = health
        self.model = model
        self.serial = serial
        self.biosVersion = biosVersion
        self.bmcFirmware = bmcFirmware
        self.error = error
        self.firmware = firmware
        self.smartArrayControllers = smartArrayControllers
    }
}
