import ArgumentParser
import DployConfig
import DployController
import DployGit
import DployServer
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
            let server = BootHTTPServer(controller: FleetController(live: live, loop: loop, clock: reconciler.clock), auth: auth,
                                        webhook: webhook, extraLinks: reconciler.config.web.links,
                                        httpFolder: reconciler.config.httpOutput,
                                        limits: .init(idleTimeout: reconciler.config.http.idleTimeout,
                                                      bodyTimeout: reconciler.config.http.bodyTimeout,
                                                      maxConnections: reconciler.config.http.maxConnections))
            let address = listen ?? reconciler.config.listen ?? "127.0.0.1:8080"
            let application = try server.application(listen: address)
            // The first reconcile runs inside the service group, so SIGTERM during it is
            // graceful too; until it has applied, boots get their local disks.
            print("dploy serve: web page at http://\(address)/ (sign in with the token in \(tokenFile))")
            print("dploy serve: desired state from \(reconciler.config.sourceDescription), mode \(reconciler.config.mode.rawValue)"
                  + (reconciler.config.suspend ? ", suspended" : ""))
            // stdout is a pipe under systemd and in scripts: show these lines now, not at exit.
            fflush(nil)  // all output streams; `stdout` itself is not concurrency-safe to name
            group = ServiceGroup(configuration: .init(
                services: [.init(service: application), .init(service: loop)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        try await group.run()
    }
}

extension Serve {
    /// Everything below `output.http` is served to the boot network without credentials:
    /// the store, the keys and the secrets must not be there. Compared with symlinks resolved
    /// (as far as the paths exist yet): a state folder that output.http reaches through a
    /// link is served just the same.
    static func refuseServedSecrets(_ config: ControllerConfig, tokenFile: String) throws {
        guard let http = config.httpOutput else { return }
        let served = SpecDirectory.resolve([ProtectedPath(http, label: "output.http")])
        let privatePaths: [ProtectedPath] = [
            ("the state folder (store.sqlite's folder)", config.stateDirectory), ("web.tokenFile", tokenFile),
            ("webhook.secretFile", config.webhookSecretFile), ("web.htpasswd", config.web.htpasswd), ("secrets", config.secrets),
        ].compactMap { what, path in path.map { ProtectedPath($0, label: what) } }
        for entry in SpecDirectory.resolve(privatePaths) where SpecDirectory.protectedLabel(of: entry.path, in: served) != nil {
            throw ServeError.servedSecret(what: entry.label, path: entry.path, served: http)
        }
    }
}

enum ServeError: Error, CustomStringConvertible {
    case servedSecret(what: String, path: String, served: String)

    var description: String {
        switch self {
        case .servedSecret(let what, let path, let served):
            "\(what) \(path) is inside output.http (\(served)), which is served to the boot network without credentials; move it out"
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
