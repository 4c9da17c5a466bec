import ArgumentParser
import DployConfig
import DployController
import DploySpec

/// `--config FILE`, read into a `Reconciler`, for the commands that act on a controller config.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The controller's config file.")
    var config: String = "dploy.yaml"

    func reconciler() throws -> Reconciler {
        try Self.reconciler(config)
    }

    /// The config at `config`, or its diagnostics printed and exit 1.
    static func reconciler(_ config: String) throws -> Reconciler {
        switch ControllerConfig.load(path: config) {
        case .success(let loaded): return Reconciler(config: loaded, configPath: config)
        case .failure(let error):
            error.diagnostics.forEach { printError($0.description) }
            throw ExitCode.failure
        }
    }
}
