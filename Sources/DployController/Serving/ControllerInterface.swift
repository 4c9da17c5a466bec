import DployInventory
import DployPlan
import DploySpec

/// What `dploy serve`'s HTTP server asks of the controller: one call per question a request
/// asks, and one per state change a request makes. The server is an adapter: it parses a
/// request, checks what HTTP can check (sessions, webhook signatures, body sizes), makes one
/// of these calls and renders the answer. It holds no store, loop or metrics of its own, and
/// the controller never calls the server: the graph runs Controller ← Server ← CLI.
///
/// `FleetController` implements it over the store, the desired state in force and, in the
/// daemon, the reconcile loop.
public protocol ControllerInterface: Sendable {
    // MARK: Reads

    /// The base URL machines reach dploy at, for the scripts the server hands out.
    var serverURL: String { get }

    /// The desired state in force: the last one applied, or found converged; nil until a
    /// run has loaded one. Pages and API answers read one per request.
    var desired: DesiredState? { get }

    /// The reconcile loop's status as of its last run; nil when no loop runs.
    var status: DaemonStatus? { get }

    /// The Prometheus exposition; nil when no loop runs.
    func metricsExposition() -> String?

    /// What the machine with this MAC boots now, in `loader`'s language (an iPXE script, a
    /// pxelinux or GRUB config), recording the sighting and any install attempt it starts
    /// (`BootDecisions`). Always an answer the loader can read: before desired state is
    /// loaded, or when the store fails, it boots the local disk and says why. With
    /// `recording` false nothing is recorded (a TFTP request, whose source may be forged).
    func bootAnswer(mac: String?, loader: BootLoader, address: String?, recording: Bool) -> String

    /// Every machine in git, then every machine seen that is not, with its last event and
    /// BMC reading: `/v1/machines` and the server list.
    func machines() throws -> [MachineOverview]

    /// One machine by name or MAC, as `/v1/machines/{id}` shows it; nil when unknown.
    func machine(_ id: String) throws -> MachineOverview?

    /// Everything the machine page shows about one machine; nil when unknown.
    func machineDetail(_ id: String) throws -> MachineDetail?

    /// A machine's newest events, newest first.
    func events(of mac: MACAddress, limit: Int) throws -> [MachineEvent]

    /// Tasks in git and in the store with their runs; only `name` when given.
    func tasks(named name: String?) throws -> [TaskOverview]

    /// BMC jobs newest first, at most `limit`: only queued and running ones when `active`,
    /// of one machine (by name) when given. `/v1/jobs`.
    func bmcJobs(machine: String?, active: Bool, limit: Int) throws -> [BMCJobView]

    /// Every site of the store: its leader and its leader's last run (`/v1/sites`, the Source page).
    func sites() throws -> [SiteView]

    /// The imaging run the request's MAC and token speak for, and its job.
    func imagingJob(mac: MACAddress, token: String) throws -> ImagingJob

    // MARK: State changes

    /// A signed webhook delivery's verdict: counted, and `.accepted` asks for a reconcile
    /// as soon as possible. Without a loop, deliveries are refused (`.notFound`).
    func webhookDelivered(_ result: ControllerMetrics.WebhookResult) throws

    /// A discovery agent's hardware report, sent from `address` (nil: unknown). Accepted at
    /// most once per boot window (10 minutes) for a MAC, and for a machine in git only while
    /// it is being rediscovered or has booted in that window, from its reserved address when
    /// it has one; otherwise refused (`.conflict`, `.forbidden`) and nothing is stored.
    func recordHardware(_ hardware: Hardware, of mac: MACAddress, address: String?) throws

    /// An installer calling back: generation `generation` of the machine is installed, if
    /// the token is the one its installer was given, the generation is the one git asks for
    /// and not installed yet (a boot that was not counted still completes).
    func recordInstalled(mac: MACAddress, generation: Int, token: String) throws

    /// A line of progress from an imaging environment, kept as its run's output.
    func recordImagingProgress(mac: MACAddress, token: String, text: String) throws

    /// The imaging environment's result (`sha256=` and `bytes=` lines, checked against the
    /// job), or its failure (`failed` with the reason it gave): the run ends. Returns the
    /// outcome recorded.
    @discardableResult
    func finishImaging(mac: MACAddress, token: String, report: ImagingReport) throws -> TaskRunOutcome
}

/// What an imaging environment reports when it is done.
public enum ImagingReport: Sendable {
    /// The `done` body: `sha256=…` and `bytes=…` lines.
    case done(String)
    /// The `failed` body: the reason, as the environment wrote it.
    case failed(String)
}

/// Why the controller did not do what a request asked, in words for the caller; the
/// server answers with the HTTP status of `kind`. Other errors (the store's) are failures.
public struct ControllerRefusal: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// A token that does not speak for this machine, generation or run (403).
        case forbidden
        /// Nothing to act on: no run, no loop, no webhook (404).
        case notFound
        /// The request does not fit the state: another generation, no install running (409).
        case conflict
        /// What the request refers to changed in git meanwhile (410).
        case gone
        /// Not now: dploy is starting, or holds as much as it may (503).
        case unavailable
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// The machine page's facts about one machine: desired (git, with group defaults), observed
/// (the store) and what happened to it.
public struct MachineDetail: Sendable {
    public var name: String
    public var mac: MACAddress
    /// Nil for a machine seen but not in git.
    public var effective: EffectiveMachine?
    public var observed: ObservedMachine?
    public var overview: MachineOverview?
    public var bmcReading: BMCRecord?
    public var installAttempts: [InstallAttempt]
    public var events: [MachineEvent]
    public var taskRuns: [TaskRun]
    /// Its BMC jobs, newest first.
    public var bmcJobs: [BMCJob] = []
}
