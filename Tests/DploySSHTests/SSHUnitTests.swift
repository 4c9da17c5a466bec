@testable import DploySSH
import DployTestSupport
import Testing

/// The parts that need no server: names, fingerprints, messages.
@Suite(.ownThread)
struct SSHUnitTests {
    @Test func knownHostsNamesAreOpenSSHs() {
        #expect(KnownHosts.entryName(host: "Web-01.example.net", port: 22) == "web-01.example.net")
        #expect(KnownHosts.entryName(host: "198.18.0.21", port: 2222) == "[198.18.0.21]:2222")
        #expect(KnownHosts.entryName(host: "::1", port: 2222) == "[::1]:2222")
    }

    @Test func fingerprintsAreUnpaddedBase64OfSHA256() {
        // SHA-256 of nothing: e3b0c442…b855, base64 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
        #expect(KnownHosts.fingerprint(of: []) == "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU")
    }

    @Test func keyAlgorithmsAreReadFromTheBlob() {
        let blob: [UInt8] = [0, 0, 0, 11] + Array("ssh-ed25519".utf8) + [0, 0, 0, 1, 7]
        #expect(KnownHosts.algorithm(of: blob) == "ssh-ed25519")
        #expect(KnownHosts.algorithm(of: [0, 0, 0, 99, 1]) == nil)
        #expect(PrivateKeyText.algorithm(of: "-----BEGIN RSA PRIVATE KEY-----\nMII…") == "ssh-rsa")
        #expect(PrivateKeyText.algorithm(of: "not a key") == nil)
    }

    @Test func hostKeyPreferenceAsksForRecordedTypesFirst() {
        let preference = KnownHosts.methodPreference(recorded: KnownHosts.preferenceOrder.filter { KnownHosts.methodNames(forHostKeyType: $0).contains("ssh-rsa") })
        #expect(preference.hasPrefix("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-ed25519,"))
        #expect(!preference.contains("ssh-dss"))
    }

    @Test func signalsBecomeShellExitCodes() {
        #expect(SignalNumbers.exitCode(forSignal: "KILL") == 137)
        #expect(SignalNumbers.exitCode(forSignal: "TERM") == 143)
        #expect(SignalNumbers.exitCode(forSignal: "WINCH") == -1)
    }

    @Test func messagesNameTheTargetOnOneLine() {
        let target = SSHTarget(host: "198.18.0.21", port: 22, user: "root")
        let errors: [SSHError] = [
            .connectFailed(target, reason: "Connection refused"),
            .hostKeyUnknown(target, fingerprint: "SHA256:a", knownHostsFile: "/k"),
            .hostKeyChanged(target, expected: "SHA256:a", presented: "SHA256:b", knownHostsFile: "/k"),
            .hostKeyRevoked(target, fingerprint: "SHA256:a", knownHostsFile: "/k"),
            .knownHostsUnusable(target, knownHostsFile: "/k", reason: "cannot write it"),
            .authenticationFailed(target, reason: "the server refused the password"),
            .privateKeyUnreadable(target, reason: "bad"),
            .timedOut(target, phase: .command, after: .milliseconds(2500)),
            .protocolError(target, reason: "SSH handshake failed"),
        ]
        for error in errors {
            #expect(error.description.hasPrefix("ssh root@198.18.0.21:22: "))
            #expect(!error.description.contains("\n"))
        }
        #expect(errors[7].description.contains("the command timed out after 2.5 s"))
    }
}
