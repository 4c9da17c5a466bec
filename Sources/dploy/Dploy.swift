import ArgumentParser

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
        subcommands: [Validate.self, PlanCommand.self, ApplyCommand.self, Serve.self, Status.self, Machines.self, Tasks.self, Discover.self, Source.self,
                      BMC.self, StoreCommand.self]
    )
}
