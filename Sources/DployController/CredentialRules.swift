import DployConfig
import DployPlan
import DploySpec
import Foundation

/// Where a spec may send a password, checked when the specs are loaded (`FleetValidator.rules`),
/// before anything connects: the git author chooses `bmc.address`, `spec.ip` and the secret's
/// name, the operator who holds the secret chooses where its password may go. A machine whose
/// BMC login, or a task whose SSH password login, breaks that is an error at its line. The
/// BMC client and the task runner check again as they connect.
///
/// A secret that cannot be read is left to the connection, which says why, as before.
struct CredentialRules: Sendable {
    let secrets: SecretStore?

    func check(_ fleet: Fleet) -> [Diagnostic] {
        guard let secrets else { return [] }
        var read: [String: Secret?] = [:]
        func secret(_ name: String) -> Secret? {
            if let known = read[name] { return known }
            let value = try? secrets.read(name)
            read[name] = value
            return value
        }
        var diagnostics: [Diagnostic] = []
        let resolver = DefaultsResolver(groups: fleet.groups)
        for machine in fleet.machines {
            guard let address = machine.settings.bmc?.address else { continue }
            let effective = resolver.resolve(machine).settings
            let addressAt = machine.settings.locations["bmc.address"] ?? machine.metadata.location
            let insecure = effective.bmc?.insecure ?? false
            if URLComponents(string: address)?.scheme?.lowercased() != "https" {
                diagnostics.append(Diagnostic(
                    "machine '\(machine.name)': spec.bmc.address '\(address)' is not https://: BMC credentials go only over "
                        + "https:// with a checked certificate or a pin", at: addressAt))
                continue
            }
            guard let name = effective.bmc?.credentials, let login = secret(name), login.password != nil,
                  let refusal = secrets.bmcRefusal(login, address: address, insecure: insecure) else { continue }
            let field = insecure && login.permits(url: address) ? "spec.bmc.insecure" : "spec.bmc.address"
            let location = field == "spec.bmc.insecure" ? (effective.locations["bmc.insecure"] ?? addressAt) : addressAt
            diagnostics.append(Diagnostic("machine '\(machine.name)': \(field): \(refusal)", at: location))
        }
        for task in fleet.tasks {
            guard case .ssh(_, _, let credentials, let hostKey, let port) = task.action,
                  let login = secret(credentials), login.privateKey == nil, login.password != nil else { continue }
            for machine in TaskPlanner.targets(of: task, in: fleet, resolver: resolver) {
                guard let ip = machine.ip else { continue }
                if let refusal = secrets.sshPasswordRefusal(login, host: ip.value.description, port: port,
                                                            acceptsNewHostKey: hostKey == .acceptNew) {
                    let (field, location) = hostKey == .acceptNew && login.permits(scheme: "ssh", host: ip.value.description, port: port)
                        ? ("spec.ssh.hostKey", task.metadata.location) : ("spec.ip", ip.location)
                    diagnostics.append(Diagnostic("task '\(task.name)' on machine '\(machine.name)': \(field): \(refusal)", at: location))
                }
            }
        }
        return diagnostics
    }
}
