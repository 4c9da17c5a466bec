import DploySSH
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Against a real OpenSSH sshd on 127.0.0.1, started per test with keys from ssh-keygen.
@Suite(.ownThread, .requires(.sshd, .sshKeygen))
struct SSHClientTests {
    /// Runs `command` on `server` as its user with its user key, unless told otherwise.
    func run(_ command: String, on server: SSHServer, user: String? = nil, authentication: SSHAuthentication? = nil,
             knownHosts: String? = nil, policy: HostKeyPolicy = .strict, commandTimeout: Duration = .seconds(20),
             outputLimit: Int = 64 * 1024) throws -> SSHCommandResult {
        try SSHClient.run(command, on: SSHTarget(host: "127.0.0.1", port: server.port, user: user ?? server.user),
                          authentication: authentication ?? .privateKey(pem: server.userKey.privateKey, passphrase: nil),
                          hostKeys: SSHHostKeys(knownHostsFile: knownHosts ?? server.path("known_hosts"), policy: policy),
                          connectTimeout: .seconds(10), commandTimeout: commandTimeout, outputLimit: outputLimit)
    }

    /// A server whose key is already in its known_hosts file, as an operator would have it.
    func knownServer(passwordAuthentication: Bool = false) throws -> SSHServer {
        let server = try SSHServer(passwordAuthentication: passwordAuthentication)
        try server.write("known_hosts", server.knownHostsLine + "\n")
        return server
    }

    @Test func aCommandRunsAsWrittenWithItsOutputAndExitCode() throws {
        let server = try knownServer()
        let result = try run("echo hi; echo err >&2; exit 3", on: server)
        #expect(result.exitCode == 3)
        #expect(result.output.contains("hi\n"))
        #expect(result.output.contains("err\n"))
        #expect(result.output.count == "hi\nerr\n".count)
        #expect(!result.truncated)
        #expect(result.signal == nil)
        // Sent verbatim: the remote shell sees the quotes and the variable, not dploy.
        #expect(try run(#"printf '%s|' "a b" '$HOME'"#, on: server).output == "a b|$HOME|")
    }

    @Test func aChangedHostKeyIsRefusedUnderEveryPolicyNamingBothFingerprints() throws {
        let server = try SSHServer()
        let other = try KeyPair("ed25519", in: server.folder, name: "other_host")
        let fields = other.publicKey.split(separator: " ")
        try server.write("known_hosts", "[127.0.0.1]:\(server.port) \(fields[0]) \(fields[1])\n")
        for policy in HostKeyPolicy.allCases {
            let error = #expect(throws: SSHError.self) { try run("true", on: server, policy: policy) }
            #expect(error == .hostKeyChanged(SSHTarget(host: "127.0.0.1", port: server.port, user: server.user),
                                             expected: other.fingerprint, presented: server.hostKey.fingerprint,
                                             knownHostsFile: server.path("known_hosts")))
            let text = error?.description ?? ""
            #expect(text.contains("\(server.user)@127.0.0.1:\(server.port)"))
            #expect(text.contains(other.fingerprint) && text.contains(server.hostKey.fingerprint))
        }
        // accept-new did not add the changed key.
        #expect(try String(contentsOfFile: server.path("known_hosts"), encoding: .utf8).split(separator: "\n").count == 1)
    }

    @Test func aKeyRecordedForAnotherPortOrTheBareHostIsNotThisHostsKey() throws {
        let server = try SSHServer()
        let fields = server.hostKey.publicKey.split(separator: " ")
        try server.write("known_hosts", "127.0.0.1 \(fields[0]) \(fields[1])\n[127.0.0.1]:1 \(fields[0]) \(fields[1])\n")
        let error = #expect(throws: SSHError.self) { try run("true", on: server) }
        #expect(error == .hostKeyUnknown(SSHTarget(host: "127.0.0.1", port: server.port, user: server.user),
                                         fingerprint: server.hostKey.fingerprint, knownHostsFile: server.path("known_hosts")))
    }

    @Test func anUnknownHostIsRefusedWhenStrict() throws {
        let server = try SSHServer()
        let error = #expect(throws: SSHError.self) { try run("true", on: server) }
        guard case .hostKeyUnknown(_, let fingerprint, _) = error else {
            Issue.record("expected an unknown host key, got \(String(describing: error))")
            return
        }
        #expect(fingerprint == server.hostKey.fingerprint)
        #expect(error!.description.contains("strict"))
        #expect(!FileManager.default.fileExists(atPath: server.path("known_hosts")))
    }

    @Test func acceptNewRecordsTheKeyAsOpenSSHWouldThenStrictPasses() throws {
        let server = try SSHServer()
        let file = server.path("known_hosts")
        #expect(try run("echo first", on: server, policy: .acceptNew).output == "first\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: file)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == server.knownHostsLine + "\n")
        // OpenSSH's own lookup finds it under the name it would have written.
        #expect(try tool(sshKeygenPath!, ["-F", "[127.0.0.1]:\(server.port)", "-f", file]).contains(server.hostKey.publicKey.split(separator: " ")[1]))
        #expect(try run("echo second", on: server).output == "second\n")
        // A second accept-new run adds nothing.
        _ = try run("true", on: server, policy: .acceptNew)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == server.knownHostsLine + "\n")
    }

    @Test func hashedKnownHostsEntriesAreRead() throws {
        let server = try knownServer()
        try tool(sshKeygenPath!, ["-H", "-f", server.path("known_hosts")])
        #expect(try String(contentsOfFile: server.path("known_hosts"), encoding: .utf8).hasPrefix("|1|"))
        #expect(try run("echo hashed", on: server).output == "hashed\n")
    }

    @Test func linesLibssh2CannotReadAreSkippedAndRevokedKeysRefused() throws {
        let server = try SSHServer()
        let fields = server.hostKey.publicKey.split(separator: " ")
        try server.write("known_hosts", """
            # written by hand
            @cert-authority *.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9rDtlGzMsr1N4Ge9rHuc2z9MqU3b8l2f8xg2yBx0E4
            198.18.0.9 sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t
            garbage
            \(server.knownHostsLine)
            """)
        #expect(try run("echo fine", on: server).output == "fine\n")

        try server.write("known_hosts", "@revoked * \(fields[0]) \(fields[1])\n")
        let error = #expect(throws: SSHError.self) { try run("true", on: server, policy: .acceptNew) }
        #expect(error == .hostKeyRevoked(SSHTarget(host: "127.0.0.1", port: server.port, user: server.user),
                                         fingerprint: server.hostKey.fingerprint, knownHostsFile: server.path("known_hosts")))
    }

    @Test(.requiresRoot("password authentication needs a throwaway local account (useradd): run as root"))
    func passwordAuthenticationWorksAndAWrongPasswordIsNamedWithoutThePassword() throws {
        let account = try TemporaryAccount()
        let server = try knownServer(passwordAuthentication: true)
        let result = try run("id -un", on: server, user: account.name, authentication: .password(account.password))
        #expect(result == SSHCommandResult(exitCode: 0, output: account.name + "\n", truncated: false))

        let wrong = "not-" + account.password
        let error = #expect(throws: SSHError.self) {
            try run("true", on: server, user: account.name, authentication: .password(wrong))
        }
        guard case .authenticationFailed(let target, _) = error else {
            Issue.record("expected an authentication failure, got \(String(describing: error))")
            return
        }
        #expect(target.user == account.name)
        let text = error!.description
        #expect(text.contains("\(account.name)@127.0.0.1:\(server.port)"))
        #expect(!text.contains(wrong) && !text.contains(account.password))
    }

    @Test func aHungCommandTimesOut() throws {
        let server = try knownServer()
        let error = #expect(throws: SSHError.self) { try run("sleep 30", on: server, commandTimeout: .seconds(2)) }
        #expect(error == .timedOut(SSHTarget(host: "127.0.0.1", port: server.port, user: server.user),
                                   phase: .command, after: .seconds(2)))
        #expect(error?.description.contains("timed out after 2 s") == true)
        // Cut by the timeout: a command that ends by itself gives a result, never this error.
    }

    @Test func outputOverTheLimitIsTruncatedAndFlagged() throws {
        let server = try knownServer()
        let result = try run("head -c 200000 /dev/zero | tr '\\0' a; echo done >&2; exit 0", on: server, outputLimit: 1000)
        #expect(result.truncated)
        #expect(result.output.utf8.count == 1000)
        #expect(result.exitCode == 0)
        let small = try run("echo fits", on: server, outputLimit: 5)
        #expect(small == SSHCommandResult(exitCode: 0, output: "fits\n", truncated: false))
    }

    @Test func aCommandKilledByASignalReportsIt() throws {
        let server = try knownServer()
        let result = try run("kill -KILL $$", on: server)
        #expect(result.signal == "KILL")
        #expect(result.exitCode == 128 + 9)
    }

    @Test func aClosedPortIsAClearConnectError() throws {
        let closed = try HeldPort()  // bound, never listening: refused, and no other test's server can take it
        defer { withExtendedLifetime(closed) {} }  // held until the test ends, not its last use
        let port = closed.port
        let target = SSHTarget(host: "127.0.0.1", port: port, user: "root")
        let error = #expect(throws: SSHError.self) {
            try SSHClient.run("true", on: target, authentication: .password("secret-pw"),
                              hostKeys: SSHHostKeys(knownHostsFile: "/nonexistent/known_hosts", policy: .strict),
                              connectTimeout: .seconds(5), commandTimeout: .seconds(5))
        }
        guard case .connectFailed(let failed, let reason) = error else {
            Issue.record("expected a connect failure, got \(String(describing: error))")
            return
        }
        #expect(failed == target)
        #expect(reason.lowercased().contains("refused"))
        #expect(error!.description.hasPrefix("ssh root@127.0.0.1:\(port): cannot connect"))
        #expect(!error!.description.contains("secret-pw"))
    }

    /// What works with libssh2 1.10 (Debian 12): OpenSSH-format keys (ssh-keygen's default,
    /// encrypted or not) and PEM ECDSA.
    @Test(arguments: [("ed25519", false, ""), ("ed25519", false, "key-pass"), ("ecdsa", false, ""), ("ecdsa", true, ""),
                      ("ecdsa", false, "key-pass")])
    func privateKeyFormats(type: String, pem: Bool, passphrase: String) throws {
        let server = try knownServer()
        let key = try KeyPair(type, in: server.folder, name: "extra_\(type)", pem: pem, passphrase: passphrase)
        try server.authorize(key)
        let result = try run("echo \(type)", on: server,
                             authentication: .privateKey(pem: key.privateKey, passphrase: passphrase.isEmpty ? nil : passphrase))
        #expect(result.output == "\(type)\n")
    }

    /// libssh2 1.10 signs with ssh-rsa (SHA-1), which OpenSSH 9 refuses: the error says so.
    @Test(arguments: [false, true])
    func rsaKeysAreRefusedByModernOpenSSHAndTheErrorSaysWhy(pem: Bool) throws {
        let server = try knownServer()
        let key = try KeyPair("rsa", in: server.folder, name: "extra_rsa", pem: pem)
        try server.authorize(key)
        let error = #expect(throws: SSHError.self) {
            try run("true", on: server, authentication: .privateKey(pem: key.privateKey, passphrase: nil))
        }
        guard case .authenticationFailed(_, let reason) = error else {
            Issue.record("expected an authentication failure, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("ed25519 or ECDSA"))
    }

    @Test func unreadableAndUnauthorizedKeysAreTold() throws {
        let server = try knownServer()
        let encrypted = try KeyPair("ed25519", in: server.folder, name: "encrypted", passphrase: "right")
        try server.authorize(encrypted)
        for (pem, passphrase) in [(encrypted.privateKey, "wrong"), (encrypted.privateKey, nil), ("not a key", nil)] {
            let error = #expect(throws: SSHError.self) {
                try run("true", on: server, authentication: .privateKey(pem: pem, passphrase: passphrase))
            }
            guard case .privateKeyUnreadable = error else {
                Issue.record("expected an unreadable key, got \(String(describing: error))")
                continue
            }
            #expect(!error!.description.contains("PRIVATE KEY"))
        }
        let stranger = try KeyPair("ed25519", in: server.folder, name: "stranger")
        let error = #expect(throws: SSHError.self) {
            try run("true", on: server, authentication: .privateKey(pem: stranger.privateKey, passphrase: nil))
        }
        guard case .authenticationFailed = error else {
            Issue.record("expected an authentication failure, got \(String(describing: error))")
            return
        }
    }
}
