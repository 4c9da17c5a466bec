import DployInventory
import DploySSH
import DploySpec

extension TaskRunner {
    /// Runs an SSH task's command on one machine: at its `spec.ip` (an address seen on the
    /// boot network is not trusted to be the machine's), as the task's `user`, with the secret's `privateKey` (its `password`, if
    /// any, is the key's passphrase) or else its `password`; host key checked against the
    /// known_hosts file under the task's policy.
    func runSSH(_ command: String, user: String, credentials: String, hostKey: HostKeyPolicy, port: Int, on machine: Machine,
                timeout: Duration) throws -> TaskRunOutcome {
        guard let host = machine.ip.map({ $0.value.description }) else {
            return .failed("machine '\(machine.name)' has no 'spec.ip' to connect to")
        }
        guard let secrets = settings.secrets else {
            return .failed("the controller config has no 'secrets' folder to read credentials '\(credentials)' from")
        }
        let secret = try secrets.read(credentials)
        let authentication: SSHAuthentication
        if let key = secret.privateKey {
            authentication = .privateKey(pem: key, passphrase: secret.password)
        } else if let password = secret.password {
            // The host and port come from the spec; where the password may go, from the secret.
            if let refusal = secrets.sshPasswordRefusal(secret, host: host, port: port, acceptsNewHostKey: hostKey == .acceptNew) {
                return .failed("machine '\(machine.name)' (spec.ip \(host)): \(refusal); nothing was sent")
            }
            authentication = .password(password)
        } else {
            return .failed("secret '\(credentials)' has neither 'privateKey' nor 'password'")
        }
        let result = try SSHClient.run(command, on: SSHTarget(host: host, port: port, user: user), authentication: authentication,
                                       hostKeys: SSHHostKeys(knownHostsFile: settings.knownHostsFile, policy: hostKey),
                                       connectTimeout: settings.sshConnectTimeout, commandTimeout: timeout,
                                       outputLimit: settings.outputLimit)
        let output = result.truncated ? result.output + "\n… (cut at \(settings.outputLimit) bytes)" : result.output
        if result.exitCode == 0 { return TaskRunOutcome(state: .succeeded, exitCode: 0, output: output) }
        let reason = result.signal.map { "killed by signal \($0)" } ?? "exit code \(result.exitCode)"
        return .failed(reason, exitCode: Int(result.exitCode), output: output)
    }
}
