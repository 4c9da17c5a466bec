import DployRender
import DployInventory
import DploySpec
import Foundation

extension ControllerConfig {
    /// Reads `dploy.yaml`. Every problem is reported with its line and column; relative
    /// paths are resolved against the file's folder.
    public static func load(path: String) -> Result<ControllerConfig, ControllerConfigError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ControllerConfigError(diagnostics: [
                Diagnostic("cannot read the controller config (use --config FILE)", at: SourceLocation(file: path, line: 1, column: 1)),
            ]))
        }
        let folder = (path as NSString).deletingLastPathComponent
        return parse(SpecFile(path: path, contents: Array(data)), relativeTo: folder.isEmpty ? "." : folder)
    }

    public static func parse(_ file: SpecFile, relativeTo folder: String) -> Result<ControllerConfig, ControllerConfigError> {
        let log = DiagnosticLog(file: file.path)
        guard let reader = MappingReader.document(file, log: log, describedAs: "the controller config") else {
            return .failure(ControllerConfigError(diagnostics: log.diagnostics))
        }
        func resolved(_ relative: String) -> String {
            relative.hasPrefix("/") || folder == "." ? relative : "\(folder)/\(relative)"
        }

        var source: Source?
        if let reader = reader.mapping("source", required: true) {
            let url = reader.string("url")
            let path = reader.string("path")
            let ref = reader.string("ref")
            let allowRewrite = reader.bool("allowHistoryRewrite")
            let signers = reader.string("allowedSigners")
            if let url {
                // A URL stays as written; a local repository path is relative to this file.
                let repository = url.value.contains("://") ? url.value : resolved(url.value)
                source = .git(repository: repository, ref: ref?.value, path: path?.value,
                              allowHistoryRewrite: allowRewrite?.value ?? false, allowedSigners: signers.map { resolved($0.value) })
            } else if let path {
                for gitOnly in [ref?.location, allowRewrite?.location, signers?.location].compactMap({ $0 }) {
                    log.append(Diagnostic("'source' without 'url' is a plain folder: this field needs a git 'url'", at: gitOnly))
                }
                source = .folder(resolved(path.value))
            } else {
                log.error("'source' needs 'url' (a git repository) or 'path' (a folder of specs)", at: reader.mark)
            }
            reader.finish()
        }
        let interval = reader.parsed("interval", Duration.parseSpec)?.value ?? .seconds(60)
        let mode = reader.choice("mode", as: Mode.self)?.value ?? .apply
        let suspend = reader.bool("suspend")?.value ?? false
        let site = reader.parsed("site", Names.dnsLabel)?.value ?? Site.defaultName
        var storePath = resolved("state/dploy.db")
        var retention = Retention()
        var postgres: Postgres?
        if let store = reader.mapping("store") {
            let sqlite = store.string("sqlite")
            if let sqlite { storePath = resolved(sqlite.value) }
            if let database = store.mapping("postgres") {
                if sqlite != nil { log.error("'store' holds 'sqlite' or 'postgres', not both", at: database.mark) }
                postgres = Self.postgres(database, log: log, resolved: resolved)
                database.finish()
            } else if sqlite == nil {
                log.error("'store' needs 'sqlite' (a file) or 'postgres' (a shared database)", at: store.mark)
            }
            retention.eventMaxAge = store.parsed("eventMaxAge", Duration.parseSpec)?.value ?? retention.eventMaxAge
            retention.maxEvents = store.int("maxEvents", minimum: 1)?.value ?? retention.maxEvents
            retention.bmcReadingMaxAge = store.parsed("bmcReadingMaxAge", Duration.parseSpec)?.value ?? retention.bmcReadingMaxAge
            retention.maxDiscovered = store.int("maxDiscovered", minimum: 0)?.value ?? retention.maxDiscovered
            store.finish()
        }
        var http: String?, tftp: String?, snapshots: Bool?, observation = OutputObservation()
        if let output = reader.mapping("output") {
            http = output.string("http").map { resolved($0.value) }
            tftp = output.string("tftp").map { resolved($0.value) }
            snapshots = output.bool("snapshots")?.value
            observation.watch = output.bool("watch")?.value ?? observation.watch
            observation.verifyInterval = output.parsed("verifyInterval", Duration.parseSpec)?.value ?? observation.verifyInterval
            output.finish()
        }
        var dhcp: DHCP?
        if let reader = reader.mapping("dhcp") {
            let backend = reader.choice("backend", required: true, as: DHCPBackend.self)
            let config = reader.string("config", required: true)
            let check = reader.string("check")?.value
            let reload = reader.string("reload")?.value
            let network = reader.parsed("network", required: backend?.value == .dnsmasqProxy, ProxyNetwork.parse)
            if let network, let backend, backend.value != .dnsmasqProxy {
                log.append(Diagnostic("'dhcp.network' is for backend dnsmasq-proxy only: \(backend.value.rawValue) "
                    + "hands out the addresses itself", at: network.location))
            }
            reader.finish()
            if let backend, let config {
                dhcp = DHCP(backend: backend.value, config: resolved(config.value), check: check, reload: reload, network: network?.value)
            }
        }
        var listen: String?, url: String?, attempts = 3, attemptWindow = Duration.seconds(600), limits = HTTPLimits()
        if let server = reader.mapping("server") {
            listen = server.string("listen")?.value
            url = server.parsed("url", Names.httpURL)?.value
            attempts = server.int("installAttempts", minimum: 1)?.value ?? 3
            attemptWindow = server.parsed("attemptWindow", Duration.parseSpec)?.value ?? attemptWindow
            limits.idleTimeout = server.parsed("idleTimeout", Duration.parseSpec)?.value ?? limits.idleTimeout
            limits.bodyTimeout = server.parsed("bodyTimeout", Duration.parseSpec)?.value ?? limits.bodyTimeout
            limits.maxConnections = server.int("maxConnections", minimum: 1)?.value ?? limits.maxConnections
            server.finish()
        }
        var tftpServer: TFTP?
        if let tftp = reader.mapping("tftp") {
            if let listen = tftp.parsed("listen", required: true, Self.listenAddress) {
                var server = TFTP(listen: listen.value)
                server.maxTransfers = tftp.int("maxTransfers", minimum: 1)?.value ?? server.maxTransfers
                server.transferTimeout = tftp.parsed("transferTimeout", Duration.parseSpec)?.value ?? server.transferTimeout
                tftpServer = server
            }
            tftp.finish()
        }
        /// A kernel, an initrd and arguments: what `discovery` and `imaging` boot.
        func bootEnvironment(_ key: String) -> BootEnvironment? {
            guard let reader = reader.mapping(key) else { return nil }
            let kernel = reader.parsed("kernel", required: true, Names.httpURL)
            let initrd = reader.parsed("initrd", required: true, Names.httpURL)
            let args = reader.string("args")?.value ?? ""
            reader.finish()
            guard let kernel, let initrd else { return nil }
            return BootEnvironment(kernel: kernel.value, initrd: initrd.value, args: args)
        }
        let discovery = bootEnvironment("discovery")
        let imaging = bootEnvironment("imaging")
        var knownHosts: String?, sshConnectTimeout = Duration.seconds(10)
        if let ssh = reader.mapping("ssh") {
            knownHosts = ssh.string("knownHosts").map { resolved($0.value) }
            sshConnectTimeout = ssh.parsed("connectTimeout", Duration.parseSpec)?.value ?? sshConnectTimeout
            ssh.finish()
        }
        let secrets = reader.string("secrets").map { resolved($0.value) }
        var web = Web()
        if let reader = reader.mapping("web") {
            web.tokenFile = reader.string("tokenFile").map { resolved($0.value) }
            web.htpasswd = reader.string("htpasswd").map { resolved($0.value) }
            for (label, url) in reader.stringMap("links") ?? [:] {
                if url.value.contains("{host}"), case .success = Names.httpURL(url.value.replacingOccurrences(of: "{host}", with: "h")) {
                    web.links[label] = url.value
                } else {
                    log.append(Diagnostic("web link '\(label)' must be an http(s):// URL with {host}, found '\(url.value)'", at: url.location))
                }
            }
            reader.finish()
        }
        var webhookSecretFile: String?
        if let reader = reader.mapping("webhook") {
            webhookSecretFile = reader.string("secretFile", required: true).map { resolved($0.value) }
            reader.finish()
        }
        var bmcConcurrency = 16, bmcObserve = false, bmcFirmwareTimeout = ControllerConfig.defaultFirmwareTimeout
        var bmcJobWorkers = ControllerConfig.defaultJobWorkers, bmcPollInterval: Duration = .seconds(5)
        if let bmc = reader.mapping("bmc") {
            bmcConcurrency = bmc.int("concurrency", minimum: 1)?.value ?? 16
            bmcJobWorkers = bmc.int("jobWorkers", minimum: 1)?.value ?? bmcJobWorkers
            bmcPollInterval = bmc.parsed("pollInterval", Duration.parseSpec)?.value ?? bmcPollInterval
            bmcObserve = bmc.bool("observe")?.value ?? false
            bmcFirmwareTimeout = bmc.parsed("firmwareTimeout", Duration.parseSpec)?.value ?? bmcFirmwareTimeout
            bmc.finish()
        }
        var pruneEnabled = false, maxRemovals = 5
        if let prune = reader.mapping("prune") {
            pruneEnabled = prune.bool("enabled")?.value ?? false
            maxRemovals = prune.int("maxRemovals", minimum: 0)?.value ?? 5
            prune.finish()
        }
        reader.finish()
        guard log.diagnostics.isEmpty, let source else {
            return .failure(ControllerConfigError(diagnostics: log.diagnostics.sorted()))
        }
        var config = ControllerConfig(source: source, interval: interval, mode: mode, suspend: suspend,
                                      storePath: storePath, httpOutput: http, tftpOutput: tftp, dhcp: dhcp,
                                      listen: listen, serverURL: url, secrets: secrets, pruneEnabled: pruneEnabled,
                                      maxRemovals: maxRemovals)
        config.installAttempts = attempts
        config.attemptWindow = attemptWindow
        config.http = limits
        config.outputObservation = observation
        config.snapshots = snapshots
        config.retention = retention
        config.postgres = postgres
        config.site = site
        config.web = web
        config.webhookSecretFile = webhookSecretFile
        config.bmcConcurrency = bmcConcurrency
        config.bmcObserve = bmcObserve
        config.bmcFirmwareTimeout = bmcFirmwareTimeout
        config.bmcJobWorkers = bmcJobWorkers
        config.bmcPollInterval = bmcPollInterval
        config.discovery = discovery
        config.imaging = imaging
        config.sshKnownHostsFile = knownHosts
        config.sshConnectTimeout = sshConnectTimeout
        config.tftp = tftpServer
        return .success(config)
    }

    /// `store.postgres`: `url` (no password in it), `passwordFile`, `tls`, `caFile`.
    static func postgres(_ reader: MappingReader, log: DiagnosticLog, resolved: (String) -> String) -> Postgres? {
        let url = reader.parsed("url", required: true, postgresURL)
        let passwordFile = reader.string("passwordFile").map { resolved($0.value) }
        let tls = reader.choice("tls", as: PostgresSettings.TLS.self)
        let caFile = reader.string("caFile").map { resolved($0.value) }
        let lease = reader.parsed("lease", Duration.parseSpec)
        if let lease, lease.value < .seconds(3) {
            log.error("'store.postgres.lease' must be at least 3s: it is renewed every third of it", at: reader.mark)
        }
        guard let url else { return nil }
        if let tls, tls.value == .disable, !isLocal(url.value) {
            log.error("'store.postgres.tls: disable' sends the store unencrypted: only for a Unix socket or loopback "
                             + "(use verify-full with caFile)", at: reader.mark)
            return nil
        }
        var postgres = Postgres(settings: PostgresSettings(url: url.value, tls: tls?.value ?? .verifyFull, caFile: caFile),
                                passwordFile: passwordFile)
        if let lease { postgres.lease = lease.value }
        return postgres
    }

    /// `postgres://USER@HOST[:PORT]/DATABASE[?host=/run/postgresql]`, without a password:
    /// a password in dploy.yaml would be in every copy and backup of it. Checked on what
    /// libpq reads (`PostgresURL`). Refusals never repeat the URL, which may hold one.
    public static func postgresURL(_ text: String) -> Result<String, ValueError> {
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let url = PostgresURL(text) else {
            return .failure(ValueError("must be a postgres:// URL that libpq can read (postgres://dploy@db1/dploy)"))
        }
        if url.hasPassword { return .failure(ValueError("holds a password; put it in 'passwordFile' (mode 0600) instead")) }
        if url.keywords["sslmode"] != nil {
            return .failure(ValueError("sets sslmode; use 'tls' (verify-full, verify-ca or disable) instead"))
        }
        return .success(text)
    }

    /// Whether the URL reaches the database only through a Unix socket or on loopback.
    public static func isLocal(_ url: String) -> Bool { PostgresURL(url)?.isLocal ?? false }

    /// HOST:PORT, an IPv6 host in brackets: `0.0.0.0:69`, `[::]:69`.
    static func listenAddress(_ text: String) -> Result<String, ValueError> {
        guard TFTP.hostAndPort(text) != nil else {
            return .failure(ValueError("must be HOST:PORT with a port from 0 to 65535 (e.g. 0.0.0.0:69), found '\(text)'"))
        }
        return .success(text)
    }
}

public struct ControllerConfigError: Error, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
