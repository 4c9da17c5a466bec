import ArgumentParser
import Foundation

@main
struct Dploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dploy",
        abstract: "Declarative GitOps provisioning for bare-metal fleets.",
        discussion: """
            Desired state (machines, groups, profiles, firmware baselines, tasks) is YAML in git; \
            dploy checks it, plans what would change, and converges the fleet.
            """,
        version: DployVersion.current,
        subcommands: [Validate.self, PlanCommand.self, ApplyCommand.self, Serve.self, Status.self, Machines.self, Tasks.self, Jobs.self, Rollout.self, Discover.self, Source.self,
                      BMC.self, StoreCommand.self]
    )

    /// As ArgumentParser's own `main`, under umask 027 first: what libraries create for
    /// dploy (libgit2's cache, a store backup, a saved plan) is then never readable or
    /// writable by other local users, whatever umask the operator runs dploy under. What
    /// dploy creates itself gets an explicit mode (`FileModes`), boot files 0644 included.
    static func main() async {
        umask(0o027)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
