import DployInventory
import Synchronization
import DployPlan
import DployRender
import DploySpec
import Foundation

/// What a network-booting machine gets from `GET /boot.ipxe?mac=…`, decided from desired
/// state and the store, and recorded in the store:
///
/// - a machine in git with an imaging task run going: the imaging environment, told its run;
/// - a MAC not in git, or one a rediscover task forgot: the discovery environment (it
///   reports its hardware), or local boot;
/// - a machine whose desired generation is not installed: its installer, at most
///   `maxAttempts` times per generation; then the generation is marked failed and the
///   machine boots its disk, so an install that never calls back cannot loop;
/// - everything else: its local disk.
///
/// A machine with `spec.ip` has its sightings and install attempts recorded only for
/// requests from that address (`address`); a request from elsewhere is answered as the
/// machine would be but records nothing, so it cannot use up the machine's attempts.
///
/// Every answer is a valid iPXE script, also for bad input.
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
    let store: SQLiteStore
    let server: BootServer
    let discovery: Discovery?
    /// What machines boot for an image-capture or image-restore task (`imaging:` in the config).
    let imaging: Discovery?
    let maxAttempts: Int
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

    public init(desired: DesiredState, store: SQLiteStore, server: BootServer, discovery: Discovery?, imaging: Discovery? = nil,
                maxAttempts: Int = 3) {
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
    }

    /// A repeat boot within this window is the same attempt: retries by the firmware, or
    /// anyone requesting the script, do not use up a machine's attempts.
    public static let attemptWindow: TimeInterval = 600

    public func script(mac text: String?, address: String?, now: Date) throws -> String {
        guard let text, let mac = MACAddress(text) else {
            return "#!ipxe\necho dploy: /boot.ipxe needs ?mac=${net0/mac}, got '\(Self.printable(text ?? ""))'\nexit\n"
        }
        // Only machines in git are written down here: any client can ask for any MAC, and
        // a stranger is recorded when its agent reports its hardware.
        guard let index = machines[mac] else { return discoveryScript(mac) }
        let machine = resolver.resolve(fleet[index])
        let profile = machine.settings.profile.flatMap { profiles[$0] }
        // Anyone on the boot network can ask for any MAC. A machine with a reserved address
        // (`spec.ip`) is only written down, and its install attempts only counted, when the
        // request comes from that address; others get the same answer and change nothing.
        // A nil address (no peer known: an in-process caller) counts.
        let counts = Self.comesFrom(fleet[index].ip?.value, address)
        if counts, lastRecorded.shouldRecord(mac, at: now) {
            do { try store.recordSeen(mac, address: address, at: now) } catch {
                lastRecorded.forget(mac)
                throw error
            }
        }
        if let run = try store.runningTaskRun(mac: mac, actions: TaskActionKind.imaging, at: now) {
            return imagingScript(machine.name, mac, run)
        }
        let observed = try store.machine(mac)
        if observed?.state == .rediscovering { return discoveryScript(mac, reason: "\(machine.name) is being rediscovered") }
        let local = IPXEScript.machine(machine, intent: .localDisk, server: server)
        guard let profile else { return local }

        let generation = machine.generation
        let installed = observed?.installedGeneration
        guard installed.map({ $0 < generation }) ?? true else { return local }
        let attempts = try store.installAttempts(mac).filter { $0.generation == generation }
        if attempts.contains(where: { $0.failedAt != nil }) { return local }
        if let latest = attempts.last, latest.finishedAt == nil, latest.failedAt == nil,
           now.timeIntervalSince(latest.startedAt) < Self.attemptWindow {
            return IPXEScript.machine(machine, intent: .install(profile), server: server)
        }
        if !counts { return attempts.count >= maxAttempts ? local : IPXEScript.machine(machine, intent: .install(profile), server: server) }
        if attempts.count >= maxAttempts {
            try store.installFailed(mac, generation: generation,
                                    reason: "no callback after \(attempts.count) install boots; booting the local disk", at: now)
            return local
        }
        try store.installStarted(mac, generation: generation, at: now)
        return IPXEScript.machine(machine, intent: .install(profile), server: server)
    }

    /// The machine's reserved address (`spec.ip`), nil when it has none or is not in git.
    public func reservedAddress(of mac: MACAddress) -> IPAddress? { machines[mac].flatMap { fleet[$0].ip?.value } }

    /// Whether a request from `address` speaks for a machine reserved `reserved`: always
    /// without a reservation or a known peer (an in-process caller), else only from it.
    public static func comesFrom(_ reserved: IPAddress?, _ address: String?) -> Bool {
        guard let reserved, let address else { return true }
        return (try? IPAddress.parse(address).get()) == reserved
    }

    /// The generation git asks for a machine, or nil when the MAC is not in git.
    public func desiredGeneration(of mac: MACAddress) -> Int? { machines[mac].map { resolver.resolve(fleet[$0]).generation } }

    private func discoveryScript(_ mac: MACAddress, reason: String? = nil) -> String {
        let reason = reason ?? "\(mac) is not in git"
        guard let discovery else {
            return "#!ipxe\necho dploy: \(reason) and discovery is not configured, booting the local disk\nexit\n"
        }
        return environmentScript(discovery, mac: mac, header: "discovery for \(mac)",
                                 message: "\(reason): booting the discovery environment")
    }

    /// The imaging environment, told where to find its job: its MAC and the run's token.
    private func imagingScript(_ name: String, _ mac: MACAddress, _ run: TaskRun) -> String {
        guard let imaging, let key = server.callbackKey else {
            return "#!ipxe\necho dploy: \(name) has an imaging task but imaging is not configured, booting the local disk\nexit\n"
        }
        let token = key.token(imaging: ImagingJob.runName(run.key), mac: mac)
        return environmentScript(imaging, mac: mac, header: "\(run.action) for \(name), task \(run.key.task)",
                                 message: "\(name): \(run.action) (task \(run.key.task)): booting the imaging environment",
                                 arguments: " dploy.token=\(token)")
    }

    /// Boots a network environment (discovery, imaging) that finds dploy and its own MAC on
    /// its kernel command line; `arguments` follow those two.
    private func environmentScript(_ environment: Discovery, mac: MACAddress, header: String, message: String,
                                   arguments: String = "") -> String {
        """
        #!ipxe
        # dploy: \(header). Generated; do not edit.
        echo dploy: \(message)
        kernel \(environment.kernel) initrd=\(IPXEScript.fileName(environment.initrd)) \(environment.args) dploy.server=\(server.url) dploy.mac=\(mac)\(arguments)
        initrd \(environment.initrd)
        boot

        """
    }

    /// Input echoed into a script: hex digits, ':' and '-' only. iPXE has no quoting and
    /// splits commands at ';', '&&' and '||', so nothing else from a request is echoed.
    static func printable(_ text: String) -> String {
        String(text.prefix(40).map { $0.isHexDigit || $0 == ":" || $0 == "-" ? $0 : "?" })
    }
}
