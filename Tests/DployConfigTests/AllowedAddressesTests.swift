import DployConfig
import DployTestSupport
import Foundation
import Testing

/// `allowedAddresses`: where a secret's password may be sent (issue 19, finding 1).
@Suite("Secrets' allowedAddresses", .ownThread)
struct AllowedAddressesTests {
    @Test("'*' stays within one label, a port must be named to differ from the scheme's own, and a host is never a prefix")
    func patterns() throws {
        let lab = try #require(AddressPattern("https://198.18.0.1*"))
        #expect(lab.matches(url: "https://198.18.0.1"))
        #expect(lab.matches(url: "https://198.18.0.121/redfish/v1/Systems/1"))
        #expect(!lab.matches(url: "https://198.18.0.1.attacker.net"))
        #expect(!lab.matches(url: "https://198.18.0.121:8443"), "no port in the pattern: 443 only")
        #expect(!lab.matches(url: "http://198.18.0.121"), "never another scheme")
        #expect(!lab.matches(url: "https://user@198.18.0.121"))
        let anyPort = try #require(AddressPattern("https://127.0.0.1:*"))
        #expect(anyPort.matches(url: "https://127.0.0.1:40001") && anyPort.matches(url: "https://127.0.0.1"))
        #expect(!anyPort.matches(url: "https://127.0.0.10:40001"))
        let ilo = try #require(AddressPattern("https://ILO-*.example.net"))
        #expect(ilo.matches(url: "https://ilo-web-01.example.net"))
        #expect(!ilo.matches(url: "https://ilo-web-01.evil.example.net"))
        let ssh = try #require(AddressPattern("ssh://198.18.0.*"))
        #expect(ssh.matches(scheme: "ssh", host: "198.18.0.21", port: 22))
        #expect(!ssh.matches(scheme: "ssh", host: "198.18.0.21", port: 2222))
        #expect(!ssh.matches(scheme: "https", host: "198.18.0.21", port: nil))
        for bad in ["http://198.18.0.1", "198.18.0.1", "https://", "https://host/path", "https://host:99999", "ftp://host",
                    "https://fd00::1"] {
            #expect(AddressPattern(bad) == nil, "\(bad)")
        }
        let v6 = try #require(AddressPattern("https://[fd00::1]"))
        #expect(v6.matches(scheme: "https", host: "fd00::1", port: 443))
    }

    @Test("A secret lists them; a bad pattern names the file and the form, and refusals name the file to change")
    func secretField() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-allowed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ name: String, _ text: String) throws {
            let path = folder.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
        let store = SecretStore(folder: folder.path)
        try write("ilo.yaml", "username: a\npassword: hunter2\nallowedAddresses: [\"https://198.18.0.1*\"]\n")
        let secret = try store.read("ilo")
        #expect(store.bmcRefusal(secret, address: "https://198.18.0.121", insecure: false) == nil)
        #expect(store.bmcRefusal(secret, address: "http://198.18.0.121", insecure: false)?.contains("in clear text") == true)
        #expect(store.bmcRefusal(secret, address: "https://203.0.113.9", insecure: false)?.contains("ilo.yaml") == true)
        #expect(store.bmcRefusal(secret, address: "https://198.18.0.121", insecure: true)?.contains("allowInsecureTLS: true") == true)
        try write("lab.yaml", "username: a\npassword: hunter2\nallowedAddresses: [\"https://198.18.0.1*\"]\nallowInsecureTLS: true\n")
        #expect(store.bmcRefusal(try store.read("lab"), address: "https://198.18.0.121", insecure: true) == nil)
        try write("bad.yaml", "username: a\npassword: hunter2\nallowedAddresses: [\"198.18.0.1\"]\n")
        #expect(throws: SecretError.self) { try store.read("bad") }
        do { _ = try store.read("bad") } catch {
            #expect(error.description.contains("'198.18.0.1' is not https://HOST[:PORT] or ssh://HOST[:PORT]"))
            #expect(!error.description.contains("hunter2"))
        }
    }
}
