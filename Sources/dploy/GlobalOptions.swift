import ArgumentParser

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The controller's config file.")
    var config: String = "dploy.yaml"

    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false
}
