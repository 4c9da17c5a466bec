import Dispatch
import Foundation

/// A Redfish client for one BMC. Its methods are async; underneath, one libcurl handle runs
/// on a serial queue of its own (a thread the queue borrows, not one of Swift's cooperative
/// pool), so sixty-four BMCs read at once are sixty-four concurrent requests even on two cores.
///
/// Call `close()` when done: it logs the session out, which a BMC with a handful of session
/// slots (iLO allows a few dozen) will thank you for.
public final class RedfishClient: @unchecked Sendable {
    // Safety: `connection` is only touched from blocks on `queue`, which is serial.
    private let connection: RedfishConnection
    private let queue: DispatchQueue
    public let endpoint: BMCEndpoint

    /// - Parameters:
    ///   - endpoint: where and as whom.
    ///   - options: timeouts, retries, sessions.
    ///   - warnings: where the one warning about `insecure: true` goes.
    public init(endpoint: BMCEndpoint, options: RedfishOptions = RedfishOptions(), warnings: BMCWarnings? = nil) {
        self.endpoint = endpoint
        connection = RedfishConnection(endpoint: endpoint, options: options)
        queue = DispatchQueue(label: "dploy.bmc.\(endpoint.address)")
        if endpoint.tls.insecure {
            warnings?.once(key: "insecure \(endpoint.address)",
                           "\(endpoint.address): 'bmc.insecure: true': the certificate is not checked, anyone on the path can read the BMC password")
        }
    }

    /// Runs blocking Redfish work on this client's queue.
    func run<T: Sendable>(_ body: @escaping @Sendable (RedfishConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body(self.connection) })
            }
        }
    }

    /// Logs out of the session, if one was opened.
    public func close() async {
        _ = try? await run { $0.close() }
    }

    /// The service root: who the BMC says it is.
    public func serviceRoot() async throws -> JSONValue {
        try await run { try $0.root() }
    }

    public func system() async throws -> ComputerSystem {
        try await run { try $0.system() }
    }

    public func manager() async throws -> Manager? {
        try await run { try $0.manager(of: try $0.system()) }
    }

    /// Power, health, model, serial, BIOS and BMC firmware versions.
    public func reading() async throws -> BMCReading {
        try await run { connection in
            let system = try connection.system()
            let manager = try? connection.manager(of: system)
            return BMCReading(system: system, manager: manager ?? nil, baseURL: connection.endpoint.baseURL)
        }
    }

    /// Any resource, by the path a link gave. For what the typed methods do not cover.
    public func get(_ path: String) async throws -> JSONValue {
        try await run { try $0.get(path).json ?? .null }
    }

    /// The BIOS attributes (`Systems/N/Bios` → `Attributes`), read only.
    public func biosAttributes() async throws -> [String: JSONValue] {
        try await run { connection in
            let system = try connection.system()
            guard let bios = system.biosPath else {
                throw connection.error(.unsupported, "the system lists no Bios resource")
            }
            guard let attributes = try connection.get(bios).json?["Attributes"]?.object else {
                throw connection.error(.badResponse, "\(bios) has no Attributes")
            }
            return attributes
        }
    }
}

/// Warnings that must be said once, not on every reconcile (an `insecure: true` BMC).
public final class BMCWarnings: @unchecked Sendable {
    private let lock = NSLock()
    private var said: Set<String> = []
    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    public func once(key: String, _ message: String) {
        lock.lock()
        let first = said.insert(key).inserted
        lock.unlock()
        if first { sink(message) }
    }
}
