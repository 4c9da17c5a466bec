import DployInventory
import DployRender
import DploySpec
import Foundation

/// The controller's own configuration, `dploy.yaml`: where desired state comes from, where
/// state and output go, how DHCP is managed. Not desired state, and never in the specs.
/// Relative paths are relative to the file.
public struct ControllerConfig: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        /// A plain folder of specs (no git).
        case folder(String)
        /// A git repository: local path or URL, optional ref and folder inside it.
        case git(repository: String, ref: String?, path: String?, allowHistoryRewrite: Bool, allowedSigners: String?)
    }

    public enum Mode: String, CaseIterable, Hashable, Sendable {
        case apply
        case planOnly = "plan-only"
    }

    public struct DHCP: Hashable, Sendable {
        public var backend: DHCPBackend
        public var config: String
        public var check: String?
        public var reload: String?
        /// `dhcp.network`, for `dnsmasq-proxy` only: where it answers.
        public var network: ProxyNetwork?
    }

    public var source: Source
    public var interval: Duration
    public var mode: Mode
    public var suspend: Bool
    /// `site`: the site this controller converges. Its machines are those whose `site` (on
    /// the machine, its `site` label, or a group's default) names it; machines with none
    /// belong to `default`, as does a controller that sets none. Each site has its own
    /// leader in a shared store.
    public var site: String = Site.defaultName
    /// The SQLite file of the embedded store; its folder also holds source status and the git cache.
    /// With `store.postgres` it is not used as a store, and its folder (`state/` beside
    /// dploy.yaml) still holds the controller's own files.
    public var storePath: String
    /// `store.postgres`: the store several controllers share, instead of the SQLite file.
    public var postgres: Postgres? = nil

    public struct Postgres: Hashable, Sendable {
        /// How to reach the database, without its password: `PostgresSettings.password` is
        /// read from `passwordFile` when the store is opened.
        public var settings: PostgresSettings
        /// `store.postgres.passwordFile`: a file of the dploy user's only (mode 0600), the
        /// password on its first line; none for peer or certificate logins.
        public var passwordFile: String?
        /// `store.postgres.lease` (default 15s, at least 3s): how long the leader's lead lasts
        /// without renewal, and so how long a frozen or cut-off leader holds up a takeover.
        public var lease: Duration = .seconds(15)
    }
    public var httpOutput: String?
    public var tftpOutput: String?
    /// `output.snapshots`: whether per-machine boot files are written for another server to
    /// serve. nil (unset): only those dploy does not answer itself, see `writesSnapshots`.
    public var snapshots: Bool?

    /// Which per-machine boot files the plan writes. `dploy serve` answers `ipxe/<mac>.ipxe`
    /// (and pxelinux and GRUB configs over HTTP) from the boot decider, and with `tftp.listen`
    /// the same names over TFTP: it never reads the files. They are written for a site whose
    /// own HTTP or TFTP server serves `output.http` or `output.tftp`. Unset, a config that
    /// names `server.listen` says dploy is the HTTP server, and one with `tftp.listen` the TFTP
    /// server: at 10,000 machines that is 20,000 files fewer to write, watch and keep in view.
    public var writesSnapshots: (ipxe: Bool, tftp: Bool) {
        (snapshots ?? (listen == nil), snapshots ?? (tftp == nil))
    }
    /// How the daemon knows its output folders between runs (`output.watch`, `output.verifyInterval`).
    public var outputObservation = OutputObservation()

    /// The daemon trusts what it last saw of its output files and what it wrote since; it
    /// looks again at what inotify names, and at every file once per `verifyInterval`. A
    /// quiet fleet's run then costs no stat per file; an edit by someone else is found at the
    /// next run (watched) or the next verification (not watched, or missed by inotify).
    public struct OutputObservation: Hashable, Sendable {
        /// `output.watch` (default true): inotify on every output folder. False for a
        /// filesystem whose other writers inotify does not see (NFS written from another host).
        public var watch = true
        /// `output.verifyInterval` (default 10m): how often every output file is looked at.
        public var verifyInterval: Duration = .seconds(600)
        public init() {}
    }
    public var dhcp: DHCP?
    public var listen: String?
    public var serverURL: String?
    /// How many times a machine boots its installer for one generation without calling back
    /// before the generation is marked failed and the machine boots its disk.
    public var installAttempts: Int = 3
    /// How long after an install boot began another boot is the same attempt (a firmware
    /// retry, a loader chaining another): `server.attemptWindow`, default 10 minutes.
    public var attemptWindow: Duration = .seconds(600)
    /// How long the store keeps events and BMC readings (`store:` in dploy.yaml); the
    /// daemon prunes after each run.
    public var retention = Retention()

    public struct Retention: Hashable, Sendable {
        /// `store.eventMaxAge`: events older than this go (default 2160h, 90 days).
        public var eventMaxAge: Duration = .seconds(90 * 24 * 3600)
        /// `store.maxEvents`: only the newest this many events are kept (default 100000).
        public var maxEvents: Int = 100_000
        /// `store.bmcReadingMaxAge`: BMC readings not renewed for this long go (default 720h, 30 days).
        public var bmcReadingMaxAge: Duration = .seconds(30 * 24 * 3600)
        /// `store.maxDiscovered`: machines that reported themselves but are not in git, at
        /// most (default 10000); a report from a new MAC beyond it is refused (503).
        public var maxDiscovered: Int = 10_000
        public init() {}
    }

    /// Limits on the HTTP server's connections (`server:` in dploy.yaml): the boot network
    /// is not trusted to close what it opens.
    public var http = HTTPLimits()

    public struct HTTPLimits: Hashable, Sendable {
        /// How long a connection may stay open without a request arriving, counted from when
        /// it opened or its last answer (`server.idleTimeout`). It is also the header timeout:
        /// a request head that has not fully arrived by then closes the connection.
        public var idleTimeout: Duration = .seconds(30)
        /// How long a request body may take to arrive, from its head (`server.bodyTimeout`).
        public var bodyTimeout: Duration = .seconds(60)
        /// How many connections are open at once (`server.maxConnections`); more wait in the
        /// kernel's backlog until one closes.
        public var maxConnections: Int = 512
        public init() {}
    }
    /// dploy's own TFTP server (`tftp:` in dploy.yaml); nil, the default, serves no TFTP.
    public var tftp: TFTP?

    public struct TFTP: Hashable, Sendable {
        /// `tftp.listen`, HOST:PORT: where read requests arrive (`0.0.0.0:69` on a boot network).
        public var listen: String
        /// `tftp.maxTransfers`: transfers at once (default 256); a request beyond it gets an error ("server busy").
        public var maxTransfers = 256
        /// `tftp.transferTimeout`: how long one transfer may take, start to end (default 10m).
        public var transferTimeout: Duration = .seconds(600)

        public init(listen: String) {
            self.listen = listen
        }

        /// `listen` as a socket takes it: the host (an IPv6 one without its brackets) and the
        /// port; nil when it is not HOST:PORT, which loading refuses at its line.
        public var address: (host: String, port: Int)? { Self.hostAndPort(listen) }

        /// The one reading of HOST:PORT, for the check at load and the socket at start.
        static func hostAndPort(_ text: String) -> (host: String, port: Int)? {
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
                  (0...65535).contains(port) else { return nil }
            let host = String(text[..<colon]).trimmingCharacters(in: ["[", "]"])
            return host.isEmpty ? nil : (host, port)
        }
    }

    /// How many BMCs the controller reads at once (`bmc: {concurrency: N}`): enough to read a
    /// large fleet quickly, few enough not to open a thousand TLS sessions in one breath.
    public var bmcConcurrency: Int = 16
    /// Whether the daemon reads every BMC on each run (power and firmware drift). Off by
    /// default: each run then contacts every BMC in the fleet.
    public var bmcObserve = false
    /// How long one firmware update may take, from SimpleUpdate to the BMC saying done
    /// (`bmc: {firmwareTimeout: 45m}`). iLO flashes a System ROM in 5 to 15 minutes.
    public var bmcFirmwareTimeout: Duration = ControllerConfig.defaultFirmwareTimeout
    public static let defaultFirmwareTimeout: Duration = .seconds(30 * 60)
    /// How many BMC jobs (firmware flashes, BIOS writes) run at once, each on a worker
    /// thread of its own (`bmc: {jobWorkers: N}`): at most this many BMCs are driven at once.
    public var bmcJobWorkers: Int = ControllerConfig.defaultJobWorkers
    public static let defaultJobWorkers = 8
    /// How often a running firmware update is polled (`bmc: {pollInterval: 5s}`).
    public var bmcPollInterval: Duration = .seconds(5)
    /// The discovery environment unknown machines boot: kernel, initrd, arguments.
    public var discovery: BootEnvironment?
    /// The secrets folder: `NAME.yaml` files, mode 0600.
    public var secrets: String?
    /// What a machine boots for an image-capture or image-restore task (`imaging:` in the
    /// config); nil when imaging tasks are not set up.
    public var imaging: BootEnvironment?
    /// The OpenSSH known_hosts file SSH tasks check host keys against (`ssh.knownHosts`).
    public var sshKnownHostsFile: String?
    /// How long an SSH task waits for the TCP connection and handshake (`ssh.connectTimeout`).
    public var sshConnectTimeout: Duration = .seconds(10)
    /// The web page and JSON API: who may read them, and extra per-machine links.
    public var web = Web()
    /// A file holding the shared secret that signs `POST /v1/hooks/git` (HMAC-SHA256).
    /// Without it, the webhook answers 404 and only the interval triggers runs.
    public var webhookSecretFile: String?
    public var pruneEnabled: Bool
    public var maxRemovals: Int

    public struct Web: Hashable, Sendable {
        /// The file holding the bearer token for the web page, the API and /metrics;
        /// `STATE/web.token` (made on first start, mode 0600) when not set.
        public var tokenFile: String?
        /// An htpasswd file of bcrypt entries (`htpasswd -B`): users who sign in with a password.
        public var htpasswd: String?
        /// Extra links on each machine, by label: a URL with `{host}` for the machine's
        /// address, e.g. `{ACU: "https://{host}:2381/hpe/acu"}`.
        public var links: [String: String] = [:]
        public init() {}
    }

    /// The known_hosts file SSH tasks use: `ssh.knownHosts`, or `STATE/known_hosts`.
    public var knownHostsPath: String { sshKnownHostsFile ?? stateDirectory + "/known_hosts" }

    /// The folder of the store, where source status and the git cache live.
    public var stateDirectory: String {
        let parts = storePath.split(separator: "/", omittingEmptySubsequences: false).dropLast()
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}
