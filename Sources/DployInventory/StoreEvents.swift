import DploySpec
import Foundation

/// The events a store writes along with the change they tell of, worded once for both
/// stores, so `dploy machines` and the page read the same whichever store is in use.
extension EventRow {
    static func firstSeen(_ mac: MACAddress, address: String?, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "seen", message: "first seen\(address.map { " at \($0)" } ?? "")")
    }

    static func hardwareReported(_ mac: MACAddress, _ hardware: Hardware, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "inventory",
                 message: "hardware reported: \(short(hardware.vendor)) \(short(hardware.model)), \(hardware.cpus) CPUs")
    }

    static func hardwareChanged(_ mac: MACAddress, _ changes: [String], at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "hardware-changed", message: changes.joined(separator: "; "))
    }

    static func installStarted(_ mac: MACAddress, generation: Int, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "install-started", message: "booted the installer for generation \(generation)")
    }

    static func installFinished(_ mac: MACAddress, generation: Int, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "install-finished", message: "generation \(generation) installed")
    }

    static func installFailed(_ mac: MACAddress, generation: Int, reason: String, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "install-failed", message: "generation \(generation): \(reason)")
    }

    static func forgotten(_ mac: MACAddress, reason: String, at: Date) -> EventRow {
        EventRow(mac: mac.description, at: at, kind: "rediscover",
                 message: "hardware and installs forgotten (\(reason)); the next network boot is a discovery")
    }

    static func taskStarted(_ run: TaskRun, mac: MACAddress) -> EventRow {
        let message = run.state == .skipped
            ? "task '\(run.key.task)' skipped: \(run.error ?? "")"
            : "task '\(run.key.task)' (\(run.action)) started"
        return EventRow(mac: mac.description, at: run.startedAt ?? Date(), kind: "task-\(run.state.rawValue)", message: message)
    }

    static func taskFinished(_ key: TaskRunKey, mac: String, _ outcome: TaskRunOutcome, at: Date) -> EventRow {
        var message = "task '\(key.task)' \(outcome.state.rawValue)"
        if let code = outcome.exitCode { message += ", exit code \(code)" }
        if let error = outcome.error { message += ": \(error)" }
        return EventRow(mac: mac, at: at, kind: "task-\(outcome.state.rawValue)", message: message)
    }

    /// A reported name quoted in an event: at most 64 characters.
    static func short(_ text: String?) -> String {
        guard let text else { return "?" }
        return text.count <= 64 ? text : String(text.prefix(63)) + "…"
    }
}

/// What the stores word alike beyond events.
enum StoreText {
    /// Why a task run that was running when its process died is failed.
    static let interrupted = "interrupted: dploy stopped while it ran; a task is not run twice"

    /// Why a run past its deadline is failed.
    static func timedOut(_ run: TaskRun) -> String {
        let limit = run.deadline.flatMap { deadline in run.startedAt.map { Int(deadline.timeIntervalSince($0)) } }
        return "timed out: no result within \(limit.map { "\($0) s" } ?? "its timeout")"
    }

    /// What a hardware report changed against the one before it (unreadable or none: nothing).
    static func changes(_ hardware: Hardware, since earlier: HardwareRow?) -> [String] {
        let previous = earlier.flatMap { try? $0.hardware() }
        return Hardware.summary(previous.map { hardware.changes(since: $0) } ?? [])
    }

    static func json(_ hardware: Hardware) throws -> String {
        String(decoding: try JSONEncoder().encode(hardware), as: UTF8.self)
    }
}
