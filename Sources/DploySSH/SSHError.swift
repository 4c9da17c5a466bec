/// Why a command could not run (or did not finish). Each description is one line that names
/// `user@host:port` and says what to do; none ever holds a password or a private key.
public enum SSHError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The TCP connection failed (refused, unreachable, name not resolved).
    case connectFailed(SSHTarget, reason: String)
    /// The host's key is not in the known_hosts file and the policy is strict.
    case hostKeyUnknown(SSHTarget, fingerprint: String, knownHostsFile: String)
    /// The host presented another key than the one recorded for it: refused under any policy.
    case hostKeyChanged(SSHTarget, expected: String, presented: String, knownHostsFile: String)
    /// The host presented a key the known_hosts file marks `@revoked`.
    case hostKeyRevoked(SSHTarget, fingerprint: String, knownHostsFile: String)
    /// The known_hosts file could not be read or (accept-new) written.
    case knownHostsUnusable(SSHTarget, knownHostsFile: String, reason: String)
    /// The server refused the credentials, or offers no method they can answer.
    case authenticationFailed(SSHTarget, reason: String)
    /// The private key could not be read (format or passphrase).
    case privateKeyUnreadable(SSHTarget, reason: String)
    /// A phase did not finish in its time; the session was closed.
    case timedOut(SSHTarget, phase: SSHPhase, after: Duration)
    /// The SSH session or channel failed (handshake, channel refused, connection lost).
    case protocolError(SSHTarget, reason: String)

    public var description: String {
        switch self {
        case .connectFailed(let target, let reason):
            return "ssh \(target): cannot connect: \(reason); check the address and port and that sshd runs there"
        case .hostKeyUnknown(let target, let fingerprint, let file):
            return "ssh \(target): host key \(fingerprint) is not in \(file) and the host key policy is strict; "
                + "add the host's key to that file (ssh-keyscan, checked out of band) or set hostKey: accept-new"
        case .hostKeyChanged(let target, let expected, let presented, let file):
            return "ssh \(target): HOST KEY CHANGED: \(file) has \(expected), the host presented \(presented); "
                + "refused (someone may be intercepting); if the host was reinstalled, replace its line in that file"
        case .hostKeyRevoked(let target, let fingerprint, let file):
            return "ssh \(target): host key \(fingerprint) is marked @revoked in \(file); refused"
        case .knownHostsUnusable(let target, let file, let reason):
            return "ssh \(target): known hosts file \(file): \(reason)"
        case .authenticationFailed(let target, let reason):
            return "ssh \(target): authentication failed: \(reason)"
        case .privateKeyUnreadable(let target, let reason):
            return "ssh \(target): cannot use the private key: \(reason)"
        case .timedOut(let target, let phase, let after):
            return "ssh \(target): \(phase.rawValue) timed out after \(SSHError.seconds(after)); the session was closed"
        case .protocolError(let target, let reason):
            return "ssh \(target): \(reason)"
        }
    }

    /// "2 s", "2.5 s".
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds) s" }
        return "\(Double(seconds) + Double(attoseconds) / 1e18) s"
    }
}

/// The part of a run a timeout cut short.
public enum SSHPhase: String, Sendable, Hashable {
    /// TCP connect, SSH handshake, host key check and authentication (the connect timeout).
    case connect = "connecting"
    /// The command, from exec until the channel closed (the command timeout).
    case command = "the command"
}
