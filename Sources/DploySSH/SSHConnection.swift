import CSSH2
import DploySpec
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libssh2_init, once per process (a global `let` is initialized exactly once, thread-safely).
private let libssh2Initialized: Int32 = libssh2_init(0)

/// Owns one socket, one LIBSSH2_SESSION and at most one channel, and frees them in `close()`
/// (or deinit). libssh2 runs non-blocking: every call that would block returns EAGAIN and
/// `wait(until:)` polls the socket in the direction libssh2 asks for, so every phase is
/// bounded by a deadline. No C pointer leaves this module.
final class SSHConnection {
    let target: SSHTarget
    private var fd: Int32 = -1
    private var session: OpaquePointer?
    private var channel: OpaquePointer?
    /// A NUL-terminated copy of the password for the keyboard-interactive callback (the
    /// session's abstract pointer); zeroed and freed in close().
    private var passwordCopy: UnsafeMutablePointer<CChar>?

    init(target: SSHTarget) {
        self.target = target
    }

    deinit { close() }

    // MARK: Connect, host key, authentication

    func connect(hostKeys: SSHHostKeys, authentication: SSHAuthentication, deadline: ContinuousClock.Instant,
                 timeout: Duration) throws(SSHError) {
        guard libssh2Initialized == 0 else { throw .protocolError(target, reason: "libssh2_init failed") }
        do {
            fd = try TCPSocket.connect(host: target.host, port: target.port, deadline: deadline)
        } catch {
            switch error {
            case .timedOut: throw .timedOut(target, phase: .connect, after: timeout)
            case .failed(let reason): throw .connectFailed(target, reason: reason)
            }
        }
        if case .password(let password) = authentication { passwordCopy = strdup(password) }
        guard let session = dploy_ssh2_session_init(passwordCopy) else {
            throw .protocolError(target, reason: "libssh2 could not allocate a session")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)

        let name = KnownHosts.entryName(host: target.host, port: target.port)
        let knownHosts: KnownHosts
        do {
            knownHosts = try KnownHosts(path: hostKeys.knownHostsFile, session: session)
        } catch {
            throw .knownHostsUnusable(target, knownHostsFile: hostKeys.knownHostsFile, reason: error.reason)
        }
        // Ask for the key types known_hosts has for this host first, as ssh does, so a host
        // with several keys is checked against the one on record.
        _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY,
                                        KnownHosts.methodPreference(recorded: knownHosts.recordedTypes(name: name)))

        let handshake = try retry(.connect, deadline, timeout) { libssh2_session_handshake(session, libssh2_socket_t(fd)) }
        guard handshake == 0 else { throw .protocolError(target, reason: "SSH handshake failed: \(lastError())") }

        try verifyHostKey(knownHosts, name: name, policy: hostKeys.policy)
        try authenticate(authentication, deadline: deadline, timeout: timeout)
    }

    private func verifyHostKey(_ knownHosts: KnownHosts, name: String, policy: HostKeyPolicy) throws(SSHError) {
        guard let session else { return }
        var length = 0
        var type: Int32 = 0
        guard let bytes = libssh2_session_hostkey(session, &length, &type) else {
            throw .protocolError(target, reason: "the server sent no host key")
        }
        let blob = Array(UnsafeRawBufferPointer(start: bytes, count: length).bindMemory(to: UInt8.self))
        let fingerprint: String
        if let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) {
            fingerprint = KnownHosts.fingerprint(sha256: Array(UnsafeRawBufferPointer(start: hash, count: 32).bindMemory(to: UInt8.self)))
        } else {
            fingerprint = KnownHosts.fingerprint(of: blob)
        }
        let key = PresentedHostKey(blob: blob, type: type, fingerprint: fingerprint)
        switch knownHosts.check(name: name, key: key) {
        case .match:
            return
        case .revoked:
            throw .hostKeyRevoked(target, fingerprint: fingerprint, knownHostsFile: knownHosts.path)
        case .mismatch(let expected):
            throw .hostKeyChanged(target, expected: expected, presented: fingerprint, knownHostsFile: knownHosts.path)
        case .notFound:
            guard policy == .acceptNew else {
                throw .hostKeyUnknown(target, fingerprint: fingerprint, knownHostsFile: knownHosts.path)
            }
            do {
                try KnownHosts.append(name: name, key: key, to: knownHosts.path)
            } catch {
                throw .knownHostsUnusable(target, knownHostsFile: knownHosts.path, reason: error.reason)
            }
        }
    }

    private func authenticate(_ authentication: SSHAuthentication, deadline: ContinuousClock.Instant,
                              timeout: Duration) throws(SSHError) {
        guard let session else { return }
        let user = target.user
        let userLength = UInt32(user.utf8.count)
        switch authentication {
        case .password(let password):
            let list = try retryPointer(.connect, deadline, timeout) { libssh2_userauth_list(session, user, userLength) }
            if list == nil {
                if libssh2_userauth_authenticated(session) != 0 { return }   // "none" was accepted
                throw .authenticationFailed(target, reason: "the server sent no authentication methods: \(lastError())")
            }
            let methods = String(cString: list!).split(separator: ",").map(String.init)
            let status: Int32
            if methods.contains("password") {
                status = try retry(.connect, deadline, timeout) {
                    dploy_ssh2_userauth_password(session, user, userLength, password, UInt32(password.utf8.count))
                }
            } else if methods.contains("keyboard-interactive") {
                status = try retry(.connect, deadline, timeout) {
                    dploy_ssh2_userauth_keyboard_interactive(session, user, userLength)
                }
            } else {
                throw .authenticationFailed(target, reason: "the server offers \(methods.joined(separator: ", ")), "
                                                + "not password or keyboard-interactive; use a key")
            }
            guard status == 0 else {
                let reason = status == LIBSSH2_ERROR_PASSWORD_EXPIRED ? "the password has expired" : "the server refused the password"
                throw .authenticationFailed(target, reason: reason)
            }
        case .privateKey(let pem, let passphrase):
            // An empty passphrase rather than NULL: with NULL, OpenSSL would prompt on the terminal.
            let status = try retry(.connect, deadline, timeout) {
                libssh2_userauth_publickey_frommemory(session, user, Int(userLength), nil, 0, pem, pem.utf8.count, passphrase ?? "")
            }
            switch status {
            case 0:
                return
            case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED, LIBSSH2_ERROR_AUTHENTICATION_FAILED:
                var reason = "the server refused the key (is its public key in \(user)'s authorized_keys?)"
                if PrivateKeyText.algorithm(of: pem) == "ssh-rsa" {
                    reason += "; libssh2 1.10 signs with RSA/SHA-1 (ssh-rsa), which OpenSSH 8.8 and later refuse: use an ed25519 or ECDSA key"
                }
                throw .authenticationFailed(target, reason: reason)
            case LIBSSH2_ERROR_SOCKET_NONE, LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT,
                 LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_TIMEOUT, LIBSSH2_ERROR_BAD_SOCKET:
                throw .protocolError(target, reason: "the connection failed during authentication: \(lastError(status))")
            default:
                // Anything else comes from reading the key, before the server sees it.
                let hint = passphrase == nil ? "if it is encrypted, give its passphrase" : "is the passphrase right?"
                throw .privateKeyUnreadable(target, reason: "\(lastError(status)) (\(hint)); libssh2 1.10 reads OpenSSH-format "
                                                + "keys (ed25519, ECDSA) and PEM ECDSA keys")
            }
        }
    }

    // MARK: The command

    /// Runs `command` on a new channel; reads stdout and stderr until EOF and the channel's
    /// close, keeping up to `outputLimit` bytes.
    func execute(_ command: String, deadline: ContinuousClock.Instant, timeout: Duration,
                 outputLimit: Int) throws(SSHError) -> SSHCommandResult {
        guard let session else { throw .protocolError(target, reason: "not connected") }
        guard let channel = try retryPointer(.command, deadline, timeout, { dploy_ssh2_channel_open_session(session) }) else {
            throw .protocolError(target, reason: "the server refused a session channel: \(lastError())")
        }
        self.channel = channel
        let started = try retry(.command, deadline, timeout) {
            dploy_ssh2_channel_exec(channel, command, UInt32(command.utf8.count))
        }
        guard started == 0 else { throw .protocolError(target, reason: "the server refused to run the command: \(lastError())") }

        var output: [UInt8] = []
        var truncated = false
        var buffer = [CChar](repeating: 0, count: 32 * 1024)
        while true {
            // Drain both streams; wait on the socket only when neither gave anything.
            var progressed = false
            for stream: Int32 in [0, SSH_EXTENDED_DATA_STDERR] {
                while true {
                    let count = buffer.withUnsafeMutableBufferPointer {
                        libssh2_channel_read_ex(channel, stream, $0.baseAddress, $0.count)
                    }
                    if count == Int(LIBSSH2_ERROR_EAGAIN) || count == 0 { break }
                    if count < 0 { throw .protocolError(target, reason: "reading the command's output failed: \(lastError())") }
                    progressed = true
                    let room = max(0, outputLimit - output.count)
                    if count > room { truncated = true }
                    buffer.withUnsafeBytes { output.append(contentsOf: $0.prefix(min(count, room))) }
                }
            }
            if libssh2_channel_eof(channel) != 0 { break }
            if !progressed { try wait(.command, deadline, timeout) }
        }
        _ = try retry(.command, deadline, timeout) { libssh2_channel_close(channel) }
        _ = try retry(.command, deadline, timeout) { libssh2_channel_wait_closed(channel) }

        var exitCode = libssh2_channel_get_exit_status(channel)
        var signalName: String?
        var name: UnsafeMutablePointer<CChar>?
        var nameLength = 0
        if libssh2_channel_get_exit_signal(channel, &name, &nameLength, nil, nil, nil, nil) == 0, let name {
            signalName = String(decoding: UnsafeRawBufferPointer(start: name, count: nameLength), as: UTF8.self)
            libssh2_free(session, name)
            exitCode = SignalNumbers.exitCode(forSignal: signalName!)
        }
        return SSHCommandResult(exitCode: exitCode, output: String(decoding: output, as: UTF8.self),
                                truncated: truncated, signal: signalName)
    }

    // MARK: Closing

    /// Says goodbye if the session is healthy (one non-blocking try), then frees the channel
    /// and the session with the socket shut down, so nothing can block, and closes it.
    func close() {
        if let session {
            _ = dploy_ssh2_session_disconnect(session, "dploy: done")
            if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
            libssh2_session_set_blocking(session, 1)
            if let channel { libssh2_channel_free(channel) }
            libssh2_session_free(session)
        }
        channel = nil
        session = nil
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        if let passwordCopy {
            memset(passwordCopy, 0, strlen(passwordCopy))
            free(passwordCopy)
        }
        passwordCopy = nil
    }

    // MARK: Non-blocking plumbing

    /// Calls `body` until it stops answering EAGAIN, waiting on the socket in between.
    private func retry(_ phase: SSHPhase, _ deadline: ContinuousClock.Instant, _ timeout: Duration,
                       _ body: () -> Int32) throws(SSHError) -> Int32 {
        while true {
            let status = body()
            if status != LIBSSH2_ERROR_EAGAIN { return status }
            try wait(phase, deadline, timeout)
        }
    }

    /// The same for calls that answer NULL and set EAGAIN as the session's last error.
    private func retryPointer<T>(_ phase: SSHPhase, _ deadline: ContinuousClock.Instant, _ timeout: Duration,
                                 _ body: () -> T?) throws(SSHError) -> T? {
        while true {
            if let value = body() { return value }
            guard let session, libssh2_session_last_errno(session) == LIBSSH2_ERROR_EAGAIN else { return nil }
            try wait(phase, deadline, timeout)
        }
    }

    private func wait(_ phase: SSHPhase, _ deadline: ContinuousClock.Instant, _ timeout: Duration) throws(SSHError) {
        guard let session else { return }
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        switch TCPSocket.wait(fd, events: events, until: deadline) {
        case .ready: return
        case .timedOut: throw .timedOut(target, phase: phase, after: timeout)
        case .failed(let code): throw .protocolError(target, reason: "waiting on the socket failed: \(TCPSocket.errorText(code))")
        }
    }

    /// libssh2's last error message (never holds credentials), or the code a call returned.
    private func lastError(_ status: Int32 = 0) -> String {
        guard let session else { return "no session" }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        guard let message, length > 0, code != 0 else { return "libssh2 error \(status == 0 ? code : status)" }
        return String(decoding: UnsafeRawBufferPointer(start: message, count: Int(length)), as: UTF8.self)
    }
}
