import DployInventory
import Synchronization
import DployPlan
import DployRender
import DploySpec
import Foundation

/// What a network-booting machine gets, whichever loader asks (`GET /boot.ipxe?mac=…`,
/// `/ipxe/<mac>.ipxe`, `/pxelinux.cfg/01-<mac>`, `/grub/grub.cfg-01-<mac>`): the facts
/// gathered from desired state and the store, decided by `BootDecider` (the one rule,
/// shared with the planner's snapshot files), recorded in the store, and rendered in the
/// loader's language (`BootAnswer`).
///
/// A machine with `spec.ip` has its sightings and install attempts recorded only for
/// requests from that address (`address`); a request from elsewhere is answered as the
/// machine would be but records nothing, so it cannot use up the machine's attempts.
///
/// Every answer is valid for its loader, also for bad input.
public struct BootDecisions: Sendable {
    /// A kernel, an initrd and their arguments, as dploy.yaml's `discovery` and `imaging` give them.
    public typealias Discovery = BootEnvironment

    /// Machines by MAC, resolved per boot: a boot is rare next to the fleet's size, and a
    /// daemon that kept every machine resolved would hold the fleet twice more.
    let fleet: [Machine]
    /// Index into `fleet` by MAC: the table holds small integers, not copies of machines.
    let machines: [MACAddress: Int]
    let resolver: DefaultsResolver
    let profiles: [String: Profile]
    let store: any Store
    let server: BootServer
    let discovery: Discovery?
    /// What machines boot for an image-capture or image-restore task (`imaging:` in the config).
    let imaging: Discovery?
    let maxAttempts: Int
    let attemptWindow: TimeInterval
    /// When each machine's sighting was last written: a machine that boots (or is probed)
    /// again within a minute costs no write, so boot traffic stays read-only.
    let lastRecorded = LastSeen()

    final class LastSeen: Sendable {
        let times = Mutex<[MACAddress: Date]>([:])

        /// Whether a sighting at `now` should be written, marking it written if so.
        func shouldRecord(_ mac: MACAddress, at now: Date) -> Bool {
            times.withLock { times in
                if let last = times[mac], now.timeIntervalSince(last) < 60 { return false }
                times[mac] = now
                return true
            }
        }

        func forget(_ mac: MACAddress) { _ = times.withLock { $0.removeValue(forKey: mac) } }
    }

    public init(desired: DesiredState, store: any Store, server: BootServer, discovery: Discovery?, imaging: Discovery? = nil,
                maxAttempts: Int = 3, attemptWindow: TimeInterval = BootDecider.attemptWindow) {
        resolver = DefaultsResolver(groups: desired.fleet.groups)
        let fleet = desired.fleet.machines
        self.fleet = fleet
        machines = Dictionary(fleet.indices.map { (fleet[$0].mac.value, $0) }, uniquingKeysWith: { first, _ in first })
        profiles = Dictionary(desired.fleet.profiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.store = store
        self.server = server
        self.discovery = discovery
        self.imaging = imaging
        self.maxAttempts = maxAttempts
        self.attemptWindow = attemptWindow
    }

    /// A repeat boot within this window is the same attempt, by default (`BootDecider.attemptWindow`).
    public static let attemptWindow = BootDecider.attemptWindow

    /// The iPXE script for `GET /boot.ipxe?mac=…`.
    public func script(mac text: String?, address: String?, now: Date) throws -> String {
        try answer(mac: text, loader: .ipxe, address: address, now: now)
    }

    /// What `loader` is told to boot for the MAC `text`, after recording what the boot means.
    /// With `recording` false, nothing is written: the answer only.
    public func answer(mac text: String?, loader: BootLoader, address: String?, now: Date, recording: Bool = true) throws -> String {
        guard let text, let mac = MACAddress(text) else {
            let usage = loader == .ipxe ? "/boot.ipxe needs ?mac=${net0/mac}" : "the \(loader) config is named by the machine's MAC"
            let message = "\(usage), got '\(Self.printable(text ?? ""))'"
            return BootAnswer.localDisk(message: message).rendered(for: loader, server: server)
        }
        return try answer(mac: mac, address: address, now: now, recording: recording).rendered(for: loader, server: server)
    }

    private func answer(mac: MACAddress, address: String?, now: Date, recording: Bool) throws -> BootAnswer {
        // Only machines in git are written down here: any client can ask for any MAC, and
        // a stranger is recorded when its agent reports its hardware.
        guard let index = machines[mac] else { return discovery(mac, reason: "\(mac) is not in git") }
        let machine = resolver.resolve(fleet[index])
        let speaks = recording && Self.comesFrom(fleet[index].ip?.value, address)
        if speaks, lastRecorded.shouldRecord(mac, at: now) {
            do { try store.recordSeen(mac, address: address, at: now) } catch {
                lastRecorded.forget(mac)
                throw error
            }
        }
        let record = try store.bootRecord(mac, runOf: TaskActionKind.imaging, at: now)
        let facts = BootDecider.Facts(
            machine: machine, profile: machine.settings.profile.flatMap { profiles[$0] }, state: record.state,
            installedGeneration: record.installedGeneration, attempts: record.attempts, imagingRun: record.run,
            speaksForMachine: speaks, now: now, maxAttempts: maxAttempts, attemptWindow: attemptWindow)
        switch BootDecider.decide(facts) {
        case .discover(let reason):
            return discovery(mac, reason: reason)
        case .image(let run):
            return imaging(machine.name, mac, run)
        case .install(let profile, _, let record):
            try self.record(record, mac: mac, now: now)
            return .machine(machine, .install(profile))
        case .localDisk(let record):
            try self.record(record, mac: mac, now: now)
            return .machine(machine, .localDisk)
        }
    }

    private func record(_ record: BootDecider.Record, mac: MACAddress, now: Date) throws {
        switch record {
        case .nothing: break
        case .attemptStarted(let generation): try store.installStarted(mac, generation: generation, at: now)
        case .generationFailed(let generation, let reason): try store.installFailed(mac, generation: generation, reason: reason, at: now)
        }
    }

    /// The machine's reserved address (`spec.ip`), nil when it has none or is not in git.
    public func reservedAddress(of mac: MACAddress) -> IPAddress? { machines[mac].flatMap { fleet[$0].ip?.value } }

    /// Whether a request from `address` speaks for a machine reserved `reserved`: always
    /// without a reservation or a known peer (an in-process caller), else only from it.
    public static func comesFrom(_ reserved: IPAddress?, _ address: String?) -> Bool {
        guard let reserved, let address else { return true }
        // A dual-stack listener reports an IPv4 peer as ::ffff:a.b.c.d.
        return (try? IPAddress.parse(address).get())?.unmapped == reserved.unmapped
    }

    /// The generation git asks for a machine, or nil when the MAC is not in git.
    public func desiredGeneration(of mac: MACAddress) -> Int? { machines[mac].map { resolver.resolve(fleet[$0]).generation } }

    private func discovery(_ mac: MACAddress, reason: String) -> BootAnswer {
        guard let discovery else { return .localDisk(message: "\(reason) and discovery is not configured, booting the local disk") }
        return .environment(discovery, mac: mac, purpose: "discovery for \(mac)",
                            message: "\(reason): booting the discovery environment", arguments: "")
    }

    /// The imaging environment, told where to find its job: its MAC and the run's token.
    private func imaging(_ name: String, _ mac: MACAddress, _ run: TaskRun) -> BootAnswer {
        guard let imaging, let key = server.callbackKey else {
            return .localDisk(message: "\(name) has an imaging task but imaging is not configured, booting the local disk")
        }
        let token = key.token(imaging: ImagingJob.runName(run.key), mac: mac)
        return .environment(imaging, mac: mac, purpose: "\(run.action) for \(name), task \(run.key.task)",
                            message: "\(name): \(run.action) (task \(run.key.task)): booting the imaging environment",
                            arguments: " dploy.token=\(token)")
    }

    /// Input echoed into a script: hex digits, ':' and '-' only. iPXE has no quoting and
    /// splits commands at ';', '&&' and '||', so nothing else from a request is echoed.
    static func printable(_ text: String) -> String {
        String(text.prefix(40).map { $0.isHexDigit || $0 == ":" || $0 == "-" ? $0 : "?" })
    }
}
