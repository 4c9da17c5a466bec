import DployInventory
import DploySpec
import Foundation

/// The one rule for what a machine's next network boot does, whatever loader asks (iPXE,
/// pxelinux, GRUB) and whoever asks: the server, deciding when the request arrives, and the
/// planner, writing the snapshot files a site may serve from elsewhere. Pure: it reads
/// `Facts` and says what to boot and what to record; the caller records it and renders the
/// answer in the loader's language.
///
/// - a MAC not in git, or one a rediscover task forgot: discovery;
/// - a machine with an imaging task run going: the imaging environment;
/// - a machine whose desired generation is not installed: its installer, at most
///   `maxAttempts` boots per generation; then the generation is failed and the machine boots
///   its disk, so an install that never calls back cannot loop;
/// - everything else: the local disk.
///
/// A boot starts an attempt, or fails a generation, only when it speaks for the machine:
/// it comes from the machine's reserved address (or the machine has none). Anyone on the
/// boot network can ask for any MAC; such a request gets the same answer and records nothing.
public enum BootDecider {
    /// What the decider reads about one MAC.
    public struct Facts: Sendable {
        /// The machine as git wants it, groups resolved; nil for a MAC that is not in git.
        public var machine: EffectiveMachine?
        /// The machine's profile; nil when it names none.
        public var profile: Profile?
        /// The store's state for the MAC, nil when it has no row.
        public var state: MachineState?
        public var installedGeneration: Int?
        /// The generation whose newest install attempt failed, when the caller knows only that
        /// (the planner); `attempts` says the same in full at request time.
        public var failedGeneration: Int?
        /// Install attempts, oldest first (any generation; the desired one is picked here).
        public var attempts: [InstallAttempt]
        /// An image-capture or image-restore run going for the machine.
        public var imagingRun: TaskRun?
        /// Whether this boot speaks for the machine (see the type's comment).
        public var speaksForMachine: Bool
        public var now: Date
        public var maxAttempts: Int
        /// How long after an attempt began a boot is still that attempt (`server.attemptWindow`).
        public var attemptWindow: TimeInterval

        public init(machine: EffectiveMachine?, profile: Profile? = nil, state: MachineState? = nil,
                    installedGeneration: Int? = nil, failedGeneration: Int? = nil, attempts: [InstallAttempt] = [],
                    imagingRun: TaskRun? = nil, speaksForMachine: Bool = false, now: Date, maxAttempts: Int,
                    attemptWindow: TimeInterval = BootDecider.attemptWindow) {
            self.machine = machine
            self.profile = profile
            self.state = state
            self.installedGeneration = installedGeneration
            self.failedGeneration = failedGeneration
            self.attempts = attempts
            self.imagingRun = imagingRun
            self.speaksForMachine = speaksForMachine
            self.now = now
            self.maxAttempts = maxAttempts
            self.attemptWindow = attemptWindow
        }
    }

    public enum Decision: Hashable, Sendable {
        /// Boot the discovery environment, which reports the machine's hardware.
        case discover(reason: String)
        /// Boot the imaging environment for this run.
        case image(TaskRun)
        /// Boot the installer of `generation`.
        case install(Profile, generation: Int, record: Record)
        /// Boot the local disk.
        case localDisk(record: Record)
    }

    /// What the store must be told of this boot.
    public enum Record: Hashable, Sendable {
        case nothing
        /// A new install attempt of the generation began.
        case attemptStarted(generation: Int)
        /// The attempts ran out: the generation is failed, and the machine boots its disk.
        case generationFailed(generation: Int, reason: String)
    }

    /// A repeat boot within this window is the same attempt: retries by the firmware, a
    /// loader chaining another (pxelinux → iPXE), or anyone requesting the script, do not use
    /// up a machine's attempts. The default of `server.attemptWindow`.
    public static let attemptWindow: TimeInterval = 600

    public static func decide(_ facts: Facts) -> Decision {
        guard let machine = facts.machine else { return .discover(reason: "not in git") }
        if let run = facts.imagingRun { return .image(run) }
        if facts.state == .rediscovering { return .discover(reason: "\(machine.name) is being rediscovered") }
        guard let profile = facts.profile else { return .localDisk(record: .nothing) }
        let generation = machine.generation
        if let installed = facts.installedGeneration, installed >= generation { return .localDisk(record: .nothing) }
        let attempts = facts.attempts.filter { $0.generation == generation }
        if facts.failedGeneration == generation || attempts.contains(where: { $0.failedAt != nil }) {
            return .localDisk(record: .nothing)
        }
        if let latest = attempts.last, latest.finishedAt == nil, facts.now.timeIntervalSince(latest.startedAt) < facts.attemptWindow {
            return .install(profile, generation: generation, record: .nothing)
        }
        if attempts.count >= facts.maxAttempts {
            let reason = "no callback after \(attempts.count) install boots; booting the local disk"
            return .localDisk(record: facts.speaksForMachine ? .generationFailed(generation: generation, reason: reason) : .nothing)
        }
        return .install(profile, generation: generation,
                        record: facts.speaksForMachine ? .attemptStarted(generation: generation) : .nothing)
    }
}
