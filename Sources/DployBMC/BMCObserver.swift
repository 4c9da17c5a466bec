import DploySpec
import Foundation

/// One machine's BMC, read at `readAt`: the reading, or why there is none.
public struct BMCObservation: Sendable {
    public let machine: String
    public let address: String?
    public let readAt: Date
    public let result: Result<BMCReading, BMCError>

    public var reading: BMCReading? { try? result.get() }
    public var error: BMCError? { if case .failure(let error) = result { error } else { nil } }
}

/// Reads many BMCs at once, never more than `concurrency` at a time (a controller with a
/// thousand machines must not open a thousand TLS connections in one breath, and many BMCs
/// serve only a few sessions). One machine's failure is its own row; the others carry on.
public struct BMCObserver: Sendable {
    public var secrets: (any BMCCredentials)?
    /// Where relative `caFile` paths start (the controller config's folder).
    public var baseDirectory: String
    public var concurrency: Int
    public var options: RedfishOptions
    public var warnings: BMCWarnings?
    /// Also read each BMC's firmware inventory (for firmware baselines); a BMC without one
    /// still gives its reading, with `firmware` nil.
    public var readsFirmware: Bool
    /// Also read the BIOS attributes, current and pending (for machines with `bios`). A BIOS
    /// that cannot be read leaves `bios` nil, so nothing is planned on a guess, and says why
    /// in `biosError`.
    public var readsBIOS: Bool
    /// Also read the RAID controllers (for machines with `storage`); like the BIOS, a
    /// storage that cannot be read leaves `storage` nil and says why in `storageError`.
    public var readsStorage: Bool = false

    public init(secrets: (any BMCCredentials)?, baseDirectory: String, concurrency: Int = 16,
                options: RedfishOptions = RedfishOptions(), warnings: BMCWarnings? = nil, readsFirmware: Bool = false,
                readsBIOS: Bool = false) {
        self.secrets = secrets
        self.baseDirectory = baseDirectory
        self.concurrency = max(1, concurrency)
        self.options = options
        self.warnings = warnings
        self.readsFirmware = readsFirmware
        self.readsBIOS = readsBIOS
    }

    /// Reads each machine's BMC; the answer is in the order of `targets`.
    public func observe(_ targets: [(machine: String, bmc: BMCSettings)]) async -> [BMCObservation] {
        await withTaskGroup(of: (Int, BMCObservation).self) { group in
            var results = [BMCObservation?](repeating: nil, count: targets.count)
            var next = 0
            func startNext() {
                guard next < targets.count else { return }
                let index = next, target = targets[next]
                next += 1
                group.addTask { (index, await read(target.machine, target.bmc)) }
            }
            for _ in 0..<min(concurrency, targets.count) { startNext() }
            while let (index, observation) = await group.next() {
                results[index] = observation
                startNext()
            }
            return results.compactMap { $0 }
        }
    }

    /// Reads one machine's BMC. Never throws: an error is part of the observation.
    public func read(_ machine: String, _ settings: BMCSettings) async -> BMCObservation {
        let result: Result<BMCReading, BMCError>
        do {
            let endpoint = try BMCEndpoint.from(settings, secrets: secrets, baseDirectory: baseDirectory)
            let client = RedfishClient(endpoint: endpoint, options: options, warnings: warnings)
            do {
                result = .success(try await reading(from: client))
            } catch let error as BMCError {
                result = .failure(error)
            } catch {
                result = .failure(BMCError(.badResponse, address: endpoint.address, "\(error)"))
            }
            await client.close()
        } catch {
            result = .failure(error)
        }
        return BMCObservation(machine: machine, address: settings.address, readAt: Date(), result: result)
    }

    /// What one BMC says: its reading, and what this observer was asked to read besides.
    func reading(from client: RedfishClient) async throws -> BMCReading {
        var reading = try await client.reading()
        if readsFirmware { reading.firmware = try? await client.firmwareInventory() }
        if readsBIOS {
            do { reading.bios = try await client.bios() } catch { reading.biosError = "\(error)" }
        }
        if readsStorage {
            do { reading.storage = try await client.storage() } catch { reading.storageError = "\(error)" }
        }
        if let storage = reading.storage {
            reading.smartArrayControllers = storage.smartArrayControllers
        } else if reading.webPage != nil {
            // An iLO: is there a Smart Array for the ACU link? A failed look says nothing.
            reading.smartArrayControllers = try? await client.smartArrayControllers()
        }
        return reading
    }
}
