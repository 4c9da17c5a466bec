import DploySpec

/// Runs one command on one host over SSH (libssh2), blocking the calling thread.
public enum SSHClient {
    /// Blocking: connect, verify the host key, authenticate, run `command` exactly as written,
    /// collect output up to `outputLimit` bytes, return the exit status. Cancels (closes the
    /// channel and session) when `commandTimeout` passes.
    ///
    /// `connectTimeout` bounds the TCP connect, the SSH handshake, the host key check and
    /// authentication together; `commandTimeout` runs from opening the channel until it
    /// closes. A command a signal killed reports 128 + the signal's number (see
    /// `SSHCommandResult.signal`). Throws `SSHError`.
    ///
    /// On a command timeout the session is dropped; the process on the host is not signalled
    /// (libssh2 1.10 has no channel signal): sshd closes its stdin/stdout/stderr, so a command
    /// that reads or prints ends, one that only sleeps runs on until it is done.
    /// Blocks the calling thread for up to both timeouts: call it from a thread of your own,
    /// not from Swift concurrency's cooperative pool.
    public static func run(_ command: String, on target: SSHTarget, authentication: SSHAuthentication, hostKeys: SSHHostKeys,
                           connectTimeout: Duration, commandTimeout: Duration, outputLimit: Int = 64 * 1024) throws -> SSHCommandResult {
        let connection = SSHConnection(target: target)
        defer { connection.close() }
        try connection.connect(hostKeys: hostKeys, authentication: authentication,
                               deadline: .now + connectTimeout, timeout: connectTimeout)
        return try connection.execute(command, deadline: .now + commandTimeout, timeout: commandTimeout,
                                      outputLimit: max(0, outputLimit))
    }
}
