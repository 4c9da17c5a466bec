import ArgumentParser
import DployConfig
import DployController
import DployGit
import DployServer
import DployTFTP
import DploySpec
import Foundation
import Logging
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the controller: follow the source, converge, serve boot traffic and the web page.",
        discussion: """
            Reconciles at start, every `interval` (with jitter) and on a signed POST /v1/hooks/git; \
            serves /boot.ipxe, the discovery agent and install callbacks to machines, and the web \
            page, JSON API and /metrics to operators (token or htpasswd user). With mode: plan-only, \
            suspend: true, or while another daemon holds the store's lock, it plans and changes \
            nothing. SIGTERM or SIGINT finishes the run in progress and exits.
            """
    )

    enum LogFormat: String, ExpressibleByArgument, CaseIterable {
        case text, json
    }

    @OptionGroup var config: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("Where to listen (default: server.listen, else 127.0.0.1:8080).", valueName: "host:port"))
    var listen: String?

    @Option(name: .long, help: "Log lines as text or as one JSON object per line.")
    var logFormat: LogFormat = .text

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        Allocator.tuneForDaemon()
        let format = logFormat, level = logLevel
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = format == .json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "dploy")
        let base = try config.reconciler()
        let reconciler = Reconciler(config: base.config, configPath: base.configPath, keepingCaches: true)
        let group: ServiceGroup
        do {
            let tokenFile = reconciler.config.web.tokenFile ?? reconciler.config.stateDirectory + "/web.token"
            // Before anything is created: the store and the token must not land where they are served.
            try Self.refuseServedSecrets(reconciler.config, tokenFile: tokenFile)
            guard let store = try reconciler.openStore(creating: true) else { throw ExitCode.failure }
            let live = try reconciler.liveDesired(store: store)
            let loop = ReconcileLoop(reconciler: reconciler, store: store, metrics: ControllerMetrics(), logger: logger, live: live)
            let auth = WebAuth(token: try SecretFile.readOrCreate(tokenFile),
                               users: try reconciler.config.web.htpasswd.map(WebAuth.users(htpasswd:)) ?? [:],
                               clock: reconciler.clock)
            let webhook = try reconciler.config.webhookSecretFile.map { file in
                Webhook(secret: try SecretFile.read(file), followedRef: reconciler.config.followedRef, clock: reconciler.clock)
            }
            let controller = FleetController(live: live, loop: loop, clock: reconciler.clock)
            let server = BootHTTPServer(controller: controller, auth: auth,
                                        webhook: webhook, extraLinks: reconciler.config.web.links,
                                        httpFolder: reconciler.config.httpOutput,
                                        limits: .init(idleTimeout: reconciler.config.http.idleTimeout,
                                                      bodyTimeout: reconciler.config.http.bodyTimeout,
                                                      maxConnections: reconciler.config.http.maxConnections))
            let address = listen ?? reconciler.config.listen ?? "127.0.0.1:8080"
            let application = try server.application(listen: address)
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: application), .init(service: loop)]
            if let tftp = reconciler.config.tftp {
                // Bound now, so that a port it may not take (69 without CAP_NET_BIND_SERVICE) stops the start.
                let (server, port) = try await Self.tftpServer(tftp, folder: reconciler.config.tftpOutput, controller: controller)
                services.append(.init(service: TFTPService(server: server)))
                print("dploy serve: TFTP on \(tftp.listen) (port \(port)), configs from the boot decider, files from "
                      + (reconciler.config.tftpOutput ?? "nowhere (no output.tftp)"))
            }
            // The first reconcile runs inside the service group, so SIGTERM during it is
            // graceful too; until it has applied, boots get their local disks.
            print("dploy serve: web page at http://\(address)/ (sign in with the token in \(tokenFile))")
            print("dploy serve: desired state from \(reconciler.config.sourceDescription), mode \(reconciler.config.mode.rawValue)"
                  + (reconciler.config.suspend ? ", suspended" : ""))
            // stdout is a pipe under systemd and in scripts: show these lines now, not at exit.
            fflush(nil)  // all output streams; `stdout` itself is not concurrency-safe to name
            group = ServiceGroup(configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        try await group.run()
    }
}

extension Serve {
    /// dploy's TFTP server, bound: pxelinux and GRUB configs from the boot decider (so those
    /// boots are counted like iPXE's), other files from output.tftp.
    static func tftpServer(_ config: ControllerConfig.TFTP, folder: String?, controller: FleetController) async throws -> (TFTPServer, Int) {
        guard let address = config.address else { throw ServeError.badListen(config.listen) }
        var configuration = TFTPServer.Configuration(host: address.host, port: address.port)
        configuration.maxTransfers = config.maxTransfers
        configuration.transferDeadline = config.transferTimeout
        let server = TFTPServer(configuration: configuration, folder: folder,
                                // Answered, never recorded: a UDP source address is forged at
                                // will (a reply port is guessed by spraying ACKs), so only a
                                // boot over TCP (HTTP) counts. dploy's DHCP config has
                                // lpxelinux and GRUB ask for their configs over HTTP.
                                bootConfig: { loader, mac, address in
                                    controller.bootAnswer(mac: mac, loader: loader, address: address, recording: false)
                                },
                                logger: Logger(label: "dploy.tftp"))
        do {
            return (server, try await server.start().port ?? configuration.port)
        } catch {
            throw ServeError.tftpBind(config.listen, "\(error)")
        }
    }

    /// Everything below `output.http` (and `output.tftp` when dploy serves TFTP) is served to the boot network without credentials:
    /// the store, the keys and the secrets must not be there. Compared with symlinks resolved
    /// (as far as the paths exist yet): a state folder that output.http reaches through a
    /// link is served just the same.
    static func refuseServedSecrets(_ config: ControllerConfig, tokenFile: String) throws {
        // output.tftp too when dploy serves it: TFTP has no credentials either.
        let folders = [(config.httpOutput, "output.http"), (config.tftp == nil ? nil : config.tftpOutput, "output.tftp")]
        for case (let folder?, let label) in folders {
            let served = SpecDirectory.resolve([ProtectedPath(folder, label: label)])
            let privatePaths: [ProtectedPath] = [
                ("the state folder (store.sqlite's folder)", config.stateDirectory), ("web.tokenFile", tokenFile),
                ("webhook.secretFile", config.webhookSecretFile), ("web.htpasswd", config.web.htpasswd), ("secrets", config.secrets),
            ].compactMap { what, path in path.map { ProtectedPath($0, label: what) } }
            for entry in SpecDirectory.resolve(privatePaths) where SpecDirectory.protectedLabel(of: entry.path, in: served) != nil {
                throw ServeError.servedSecret(what: entry.label, path: entry.path, served: "\(label) (\(folder))")
            }
        }
    }
}

enum ServeError: Error, CustomStringConvertible {
    case servedSecret(what: String, path: String, served: String)
    case badListen(String)
    case tftpBind(String, String)

    var description: String {
        switch self {
        case .servedSecret(let what, let path, let served):
            "\(what) \(path) is inside \(served), which is served to the boot network without credentials; move it out"
        case .badListen(let listen):
            "tftp.listen must be HOST:PORT, found '\(listen)'"
        case .tftpBind(let listen, let error):
            "cannot serve TFTP on \(listen): \(error) (a port below 1024 needs CAP_NET_BIND_SERVICE; see packaging/dploy.service)"
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

extension ControllerConfig {
    /// Where desired state comes from, for people: credentials in a URL are never shown.
    var sourceDescription: String {
        switch source {
        case .folder(let folder): "folder \(folder)"
        case .git(let repository, let ref, let path, _, _):
            "git \(GitSourceConfig.redacted(repository))" + (ref.map { " \($0)" } ?? "") + (path.map { ", path \($0)" } ?? "")
        }
    }

    /// The branch the git source follows, for matching webhook deliveries.
    var followedRef: String? {
        if case .git(_, let ref, _, _, _) = source { return ref }
        return nil
    }
}

/// The TFTP server as a service of `dploy serve`: already bound; closed on shutdown.
struct TFTPService: Service {
    let server: TFTPServer

    func run() async throws {
        try? await gracefulShutdown()
        try await server.stop()
    }
}
