import ArgumentParser

/// Options every command takes. `--config` joins when the first command that reads the
/// controller's config (`plan`) lands.
struct GlobalOptions: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON on stdout.")
    var json = false
}
