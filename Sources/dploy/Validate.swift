import ArgumentParser
import DployConfig
import DployController
import DployGit
import DploySpec
import Foundation

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check specs, in a folder or at a git commit, and report every error with file:line:column.",
        discussion: """
            Reads every *.yaml and *.yml below the folder (hidden folders, the controller's dploy.yaml \
            and .dployignore matches are skipped). With --source, reads them from git objects at a \
            commit instead, without checking anything out; errors then read COMMIT:path:line:column. \
            With --config, also checks what the controller checks as it loads specs: passwords go only \
            where the secrets allow, and BIOS attributes are ones each machine's BIOS listed when its \
            BMC was last read (the store's readings, when the store exists; it is never created). \
            Without a folder or --source, it reads the config's own source. \
            Exits 0 when the specs are valid, 1 otherwise.
            """
    )

    @OptionGroup var options: GlobalOptions
    @OptionGroup var source: SourceOptions

    @Argument(help: ArgumentHelp("A folder of specs, or a single spec file (not with --source).", valueName: "path"))
    var folder: String?

    @Option(name: .long, help: ArgumentHelp("Print a machine's effective spec, after group defaults.", valueName: "machine"))
    var show: String?

    @Option(name: .long, help: ArgumentHelp("A controller config: check specs as its controller loads them.", valueName: "file"))
    var config: String?

    func validate() throws {
        if source.source != nil && folder != nil {
            throw ValidationError("give a folder or --source, not both")
        }
        if source.source == nil && (source.ref != nil || source.path != nil) {
            throw ValidationError("--ref and --path read from git: add --source")
        }
    }

    func run() throws {
        let result: LoadResult
        var diagnostics: [String]
        var summarySuffix = ""
        let place: String
        let controller = try config.map(controllerRules)
        // Without a folder or --source, --config names the specs too.
        var folder = folder, gitRepository = source.source, ref = source.ref, path = source.path
        if folder == nil, gitRepository == nil, let controller {
            switch controller.source {
            case .folder(let configured): folder = configured
            case .git(let repository, let configuredRef, let configuredPath, _, _):
                (gitRepository, ref, path) = (repository, configuredRef, configuredPath)
            }
        }
        if let repository = gitRepository {
            let gitSource = GitSource(config: GitSourceConfig(repository: repository, ref: ref, path: path),
                                      cacheDirectory: source.cacheDirectory)
            if let controller { gitSource.rules = controller.rules }
            let snapshot: SourceSnapshot
            do {
                snapshot = try gitSource.load(gitSource.fetch().id)
            } catch let error as SourceError {
                printError("error: \(error)")
                throw ExitCode.failure
            }
            result = snapshot.result
            diagnostics = snapshot.renderedDiagnostics
            summarySuffix = " at \(snapshot.commit.id.short) \"\(snapshot.commit.summary)\""
            place = "\(repository) at \(snapshot.commit.id.short)"
        } else {
            let folder = folder ?? "."
            let files: [SpecFile], knownPaths: Set<String>
            do {
                (files, knownPaths) = try SpecDirectory(root: folder).read()
            } catch let error as SpecSourceError {
                printError("error: \(error)")
                throw ExitCode.failure
            }
            result = SpecLoader(knownPaths: knownPaths.isEmpty ? nil : knownPaths, rules: controller?.rules).load(files)
            diagnostics = result.diagnostics.map(\.description)
            place = folder
        }

        if options.json {
            let machine = show.flatMap { effective(named: $0, in: result) }
            try printJSON(ValidationReport(result, show: machine))
            if let show, result.isValid, machine == nil {
                printError("no machine named '\(show)' in \(place)")
                throw ExitCode.failure
            }
        } else {
            diagnostics.forEach(printError)
            if result.isValid { print(result.summary + summarySuffix) } else {
                printError("\(result.diagnostics.count) error\(result.diagnostics.count == 1 ? "" : "s") in \(place)")
            }
            if let show, result.isValid {
                guard let machine = effective(named: show, in: result) else {
                    printError("no machine named '\(show)' in \(place)")
                    throw ExitCode.failure
                }
                print(machine.report)
            }
        }
        if !result.isValid { throw ExitCode.failure }
    }

    /// The controller's loader rules and source, from its config. Its store is read for BIOS
    /// readings when it exists and can be read; when it cannot, the specs are checked without
    /// them, and the warning says so.
    private func controllerRules(_ path: String) throws -> (rules: @Sendable (Fleet) -> [Diagnostic], source: ControllerConfig.Source) {
        let reconciler = try ConfigOptions.reconciler(path)
        do {
            try reconciler.readKnownBIOS()
        } catch {
            printError("warning: BIOS attributes not checked: cannot read the store: \(error)")
        }
        return (reconciler.specRules, reconciler.config.source)
    }

    private func effective(named name: String, in result: LoadResult) -> EffectiveMachine? {
        result.fleet.machine(named: name).map(DefaultsResolver(groups: result.fleet.groups).resolve)
    }
}

/// Where to read desired state from git, for commands that take a source on the command line.
struct SourceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A git repository: a local path (bare or not) or a file:// or https:// URL.",
                                            valueName: "url-or-path"))
    var source: String?

    @Option(name: .long, help: "A branch, tag or commit (default: the remote's default branch, or HEAD).")
    var ref: String?

    @Option(name: .long, help: ArgumentHelp("The folder inside the repository that holds the specs.", valueName: "subdir"))
    var path: String?

    @Option(name: .long, help: ArgumentHelp("Where remote repositories are fetched to.", valueName: "dir"))
    var cache: String?

    var cacheDirectory: String {
        if let cache { return cache }
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CACHE_HOME"] ?? ((environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache")
        return base + "/dploy/git"
    }
}
