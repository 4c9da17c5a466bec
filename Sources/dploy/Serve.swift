import ArgumentParser
import DployController
import DployServer
import Foundation

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve boot scripts, the discovery agent, inventory and install callbacks over HTTP.",
        discussion: """
            Machines network-boot through GET /boot.ipxe?mac=…; the decision (discovery, install, \
            local disk) is recorded in the store. Runs until SIGTERM or SIGINT. The reconcile loop \
            joins this process in a later release; today desired state is read at start.
            """
    )

    @OptionGroup var config: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("Where to listen (default: server.listen, else 127.0.0.1:8080).", valueName: "host:port"))
    var listen: String?

    func run() async throws {
        let reconciler = try config.reconciler()
        let server: BootHTTPServer
        do {
            guard let store = try reconciler.openStore(creating: true) else { throw ExitCode.failure }
            server = BootHTTPServer(
                desired: try reconciler.loadDesired(), store: store, server: try reconciler.settings.server,
                discovery: reconciler.config.discovery.map { .init(kernel: $0.kernel, initrd: $0.initrd, args: $0.args) },
                maxAttempts: reconciler.config.installAttempts)
        } catch let error as CustomStringConvertible & Error {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        let address = listen ?? reconciler.config.listen ?? "127.0.0.1:8080"
        print("dploy serve: listening on \(address), desired state from \(reconciler.config.source)")
        try await server.run(listen: address)
    }
}
