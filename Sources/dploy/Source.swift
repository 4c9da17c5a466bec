import ArgumentParser
import DployConfig
import DployGit
import DploySpec
import Foundation

struct Source: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow the git source: fetch and check new commits, show what is in force.",
        subcommands: [Fetch.self, Status.self]
    )

    struct ConfigOption: ParsableArguments {
        @Option(name: .long, help: "The controller's config file.")
        var config: String = "dploy.yaml"

        func load() throws -> (ControllerConfig, GitSource, statusPath: String) {
            let config: ControllerConfig
            switch ControllerConfig.load(path: self.config) {
            case .success(let loaded): config = loaded
            case .failure(let error):
                error.diagnostics.forEach { printError($0.description) }
                throw ExitCode.failure
            }
            guard case .git(let repository, let ref, let path, let allowRewrite, let signers) = config.source else {
                printError("error: \(self.config): 'source' is a plain folder; source commands need a git 'url'")
                throw ExitCode.failure
            }
            let source = GitSource(
                config: GitSourceConfig(repository: repository, ref: ref, path: path, allowHistoryRewrite: allowRewrite,
                                        allowedSigners: signers),
                cacheDirectory: config.stateDirectory + "/git-cache")
            return (config, source, config.stateDirectory + "/source-status.json")
        }
    }

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch the source, check the new commit, and record it as last good if it passes.",
            discussion: "A commit that fails validation, signature or history checks never becomes desired state; the last good commit stays. Exits 1 when the commit was refused."
        )

        @OptionGroup var config: ConfigOption
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let (_, source, statusPath) = try config.load()
            let previous = try SourceStatus.read(from: statusPath)
            let update = SourceTracker(source: source).update(previous)
            try update.status.write(to: statusPath)
            if options.json {
                try printJSON(update.status)
            } else {
                switch update.outcome {
                case .accepted: print("accepted \(describe(update.status.lastGood))")
                case .unchanged: print("unchanged: \(describe(update.status.lastGood)) is in force")
                case .rejected:
                    printError("refused: \(update.status.lastError?.message ?? "unknown error")")
                    printError("in force: \(update.status.lastGood.map(describe) ?? "nothing (no good commit yet)")")
                }
            }
            if update.outcome == .rejected { throw ExitCode.failure }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the last fetched, good and applied commits and the last error.")

        @OptionGroup var config: ConfigOption
        @OptionGroup var options: GlobalOptions

        func run() throws {
            let (controller, _, statusPath) = try config.load()
            let status = try SourceStatus.read(from: statusPath)
            if options.json { return try printJSON(status) }
            if case .git(let repository, let ref, let path, _, _) = controller.source {
                print("source        \(GitSourceConfig.redacted(repository))\(ref.map { " @ \($0)" } ?? "")\(path.map { " /\($0)" } ?? "")")
            }
            print("last fetched  \(describe(status.lastFetched))")
            print("last good     \(describe(status.lastGood))")
            print("last applied  \(describe(status.lastApplied))")
            if let error = status.lastError {
                let lines = error.message.split(separator: "\n", omittingEmptySubsequences: false)
                print("last error    \(lines.first ?? "")")
                lines.dropFirst().forEach { print("              \($0)") }
            } else {
                print("last error    none")
            }
        }
    }
}

private func describe(_ commit: CommitInfo?) -> String {
    guard let commit else { return "none" }
    return "\(commit.id.short) \"\(commit.summary)\""
}
