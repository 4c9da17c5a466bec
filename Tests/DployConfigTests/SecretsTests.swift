import DployConfig
import DploySpec
import DployTestSupport
import Foundation
import Testing

@Suite("Secrets folder", .ownThread)
struct SecretsTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String, mode: Int = 0o600) throws {
        let path = folder.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test("A 0600 file with username and password is read")
    func readsSecret() throws {
        try write("web-ilo.yaml", "username: Administrator\npassword: 's3cret: yes'\n")
        let secret = try SecretStore(folder: folder.path).read("web-ilo")
        #expect(secret.username == "Administrator")
        #expect(secret.password == "s3cret: yes")
        #expect(!"\(secret)".contains("s3cret"))
        #expect(!String(reflecting: secret).contains("s3cret"))
    }

    @Test("An SSH secret may hold a private key instead of a password")
    func readsPrivateKey() throws {
        try write("web-ssh.yaml", "username: root\nprivateKey: |\n  -----BEGIN OPENSSH PRIVATE KEY-----\n  abc\n")
        let secret = try SecretStore(folder: folder.path).read("web-ssh")
        #expect(secret.password == nil)
        #expect(secret.privateKey?.hasPrefix("-----BEGIN") == true)
    }

    @Test("A group- or world-readable secret is refused, naming the file and the fix")
    func refusesReadableByOthers() throws {
        try write("web-ilo.yaml", "username: a\npassword: hunter2\n", mode: 0o644)
        let error = #expect(throws: SecretError.self) { try SecretStore(folder: folder.path).read("web-ilo") }
        #expect(error?.description.contains(folder.appendingPathComponent("web-ilo.yaml").path) == true)
        #expect(error?.description.contains("chmod 600") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test("A one-line secret file: CRLF or not, refused when others can read it or it is empty")
    func readsSecretFile() throws {
        try write("webhook", "s3cret\r\n")
        #expect(try SecretFile.read(folder.appendingPathComponent("webhook").path) == "s3cret")
        try write("open", "s3cret\n", mode: 0o640)
        let open = #expect(throws: SecretError.self) { try SecretFile.read(folder.appendingPathComponent("open").path) }
        #expect(open?.description.contains("is readable by group or others (mode 640)") == true)
        #expect(open?.description.contains("s3cret") == false)
        try write("empty", "\n\n")
        let empty = #expect(throws: SecretError.self) { try SecretFile.read(folder.appendingPathComponent("empty").path) }
        #expect(empty?.description == folder.appendingPathComponent("empty").path + ": is empty")
    }

    @Test("A missing token file is made: 64 hex digits, mode 0600, the same on the next read")
    func createsTokenFile() throws {
        let path = folder.appendingPathComponent("web.token").path
        let token = try SecretFile.readOrCreate(path)
        #expect(token.count == 64 && Hex.decode(token)?.count == 32)
        let mode = try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try SecretFile.readOrCreate(path) == token)
    }

    @Test("Missing file, missing password, bad YAML and path tricks are clear errors without values")
    func refusesBadSecrets() throws {
        let store = SecretStore(folder: folder.path)
        #expect(throws: SecretError.self) { try store.read("absent") }
        try write("nopass.yaml", "username: a\n")
        #expect(throws: SecretError.self) { try store.read("nopass") }
        try write("broken.yaml", "username: a\npassword: [hunter2\n")
        let broken = #expect(throws: SecretError.self) { try store.read("broken") }
        #expect(broken?.description.contains("hunter2") == false)
        #expect(throws: SecretError.self) { try store.read("../etc/passwd") }
    }
}

@Test("dump() of a secret shows no password", .ownThread)
func dumpHidesPassword() {
    var text = ""
    dump(Secret(name: "web-ilo", username: "admin", password: "hunter2"), to: &text)
    #expect(!text.contains("hunter2"))
}
