import DploySpec

/// Where a command runs: a host (name or address), its SSH port and the user to log in as.
public struct SSHTarget: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String

    public init(host: String, port: Int = 22, user: String) {
        self.host = host
        self.port = port
        self.user = user
    }

    /// `user@host:port`, as every error names the target.
    public var description: String { "\(user)@\(host):\(port)" }
}

/// How to log in. Neither case's secret ever appears in an error or a log line.
public enum SSHAuthentication: Sendable {
    /// The "password" method, or keyboard-interactive answered with the password when the
    /// server does not offer "password".
    case password(String)
    /// A private key held in memory. With libssh2 1.10 (Debian 12) use ed25519 or ECDSA:
    /// OpenSSH-format keys (`ssh-keygen`'s default, also encrypted, with their passphrase) or
    /// PEM ECDSA keys. RSA keys are read, but libssh2 1.10 signs with RSA/SHA-1 (`ssh-rsa`),
    /// which OpenSSH 8.8 and later refuse by default.
    case privateKey(pem: String, passphrase: String?)
}

/// The known_hosts file (OpenSSH format; plain or hashed names, `[host]:port` for ports
/// other than 22) and what to do with a host key that is not in it. A key that differs
/// from the one recorded is always refused.
public struct SSHHostKeys: Sendable {
    public var knownHostsFile: String
    public var policy: HostKeyPolicy

    public init(knownHostsFile: String, policy: HostKeyPolicy = .strict) {
        self.knownHostsFile = knownHostsFile
        self.policy = policy
    }
}

/// What a command did.
public struct SSHCommandResult: Sendable, Hashable {
    /// The command's exit status; when a signal killed it, 128 + the signal's number (as a
    /// shell reports it), or -1 for a signal name this side does not know.
    public var exitCode: Int32
    /// stdout and stderr interleaved in the order they were read, cut at the output limit.
    public var output: String
    /// True when the command printed more than the limit (the rest was read and dropped).
    public var truncated: Bool
    /// The signal that killed the command, as the server names it ("KILL", "TERM"), if any.
    public var signal: String?

    public init(exitCode: Int32, output: String, truncated: Bool, signal: String? = nil) {
        self.exitCode = exitCode
        self.output = output
        self.truncated = truncated
        self.signal = signal
    }
}
