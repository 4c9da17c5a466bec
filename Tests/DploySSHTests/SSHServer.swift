import DployTestSupport
import Foundation

let sshdPath = Tool.sshd.path
let sshKeygenPath: String? = Tool.sshKeygen.path

/// Runs a tool to completion (stdin from `input`), returning stdout; throws with stderr when it fails.
@discardableResult
func tool(_ path: String, _ arguments: [String], input: String = "") throws -> String {
    try run(path, arguments, input: input)
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A key pair made by ssh-keygen: the private key file's text and the public key line.
struct KeyPair {
    let privateKey: String
    let publicKey: String
    /// `SHA256:…` as `ssh-keygen -l` prints it.
    let fingerprint: String

    /// `ssh-keygen -t TYPE [-m PEM] [-N passphrase]` into `folder/name`.
    init(_ type: String, in folder: URL, name: String, pem: Bool = false, passphrase: String = "") throws {
        let path = folder.appendingPathComponent(name).path
        var arguments = ["-q", "-t", type, "-N", passphrase, "-C", name, "-f", path]
        if pem { arguments += ["-m", "PEM"] }
        try tool(sshKeygenPath!, arguments)
        privateKey = try String(contentsOfFile: path, encoding: .utf8)
        publicKey = try String(contentsOfFile: path + ".pub", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let listing = try tool(sshKeygenPath!, ["-l", "-E", "sha256", "-f", path + ".pub"])
        fingerprint = String(listing.split(separator: " ")[1])
    }
}

/// Debian's OpenSSH sshd on 127.0.0.1 and a port it holds (see `start`), as the current user, with an ed25519
/// host key and a user key made for it, authorized_keys in its temp folder, no PAM. Stopped
/// (SIGKILL by its pid) and its folder removed when the fixture goes away.
final class SSHServer: @unchecked Sendable {
    let folder: URL
    /// Set once sshd listens on it.
    private(set) var port = 0
    let hostKey: KeyPair
    let userKey: KeyPair
    /// The user the tests log in as with `userKey`: whoever runs the tests.
    let user: String
    private var pid: pid_t = 0

    init(passwordAuthentication: Bool = false) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-ssh-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        hostKey = try KeyPair("ed25519", in: folder, name: "host_ed25519")
        userKey = try KeyPair("ed25519", in: folder, name: "user_ed25519")
        user = String(cString: getpwuid(getuid())!.pointee.pw_name)
        try write("authorized_keys", userKey.publicKey + "\n")
        if isRoot {
            // sshd started as root insists on its privilege separation folder (systemd makes it).
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        try write("sshd_config", """
            ListenAddress 127.0.0.1
            HostKey \(folder.path)/host_ed25519
            PidFile none
            UsePAM no
            StrictModes no
            AuthorizedKeysFile \(folder.path)/authorized_keys
            PubkeyAuthentication yes
            PasswordAuthentication \(passwordAuthentication ? "yes" : "no")
            KbdInteractiveAuthentication no
            PermitRootLogin yes
            LogLevel VERBOSE

            """)
        var started: pid_t = 0
        port = try Self.start(folder: folder, log: folder.path + "/sshd.log", pid: &started)
        pid = started
    }

    /// sshd cannot bind port 0 and say which port it got, nor take a socket from its parent.
    /// So: a port the kernel picks, then sshd started on it; the port is used only once sshd
    /// logs that it listens there, which proves it holds it. If a parallel test's server took
    /// the port in between, sshd exits with "Address already in use" and another port is tried.
    private static func start(folder: URL, log: String, pid: inout pid_t) throws -> Int {
        var lastLog = ""
        for _ in 0..<5 {
            let port = try HeldPort().port  // released here: sshd binds it next
            pid = try spawn(sshdPath, ["-D", "-e", "-f", folder.path + "/sshd_config", "-p", String(port)], log: log)
            let text = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
            var exited = false
            let listening = eventuallyBlocking(20) {
                if text().contains("Server listening on 127.0.0.1 port \(port)") { return true }
                if waitpid(pid, nil, WNOHANG) == pid { exited = true; return true }
                return false
            }
            lastLog = text()
            if listening && !exited { return port }
            if !exited { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
            pid = 0
            guard lastLog.contains("Address already in use") else { break }
        }
        throw FixtureError("sshd did not listen: \(lastLog)")
    }

    deinit {
        if pid > 0 {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// posix_spawn rather than Foundation's Process: Process reaps its children one blocking
    /// waitpid at a time, so a long-lived sshd started with it stalls every later tool run.
    /// The child gets an empty signal mask (a Swift concurrency thread blocks some signals).
    static func spawn(_ path: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard status == 0 else { throw FixtureError("cannot start \(path): \(String(cString: strerror(status)))") }
        return pid
    }

    var logPath: String { folder.path + "/sshd.log" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The known_hosts line OpenSSH writes for this server.
    var knownHostsLine: String {
        let fields = hostKey.publicKey.split(separator: " ")
        return "[127.0.0.1]:\(port) \(fields[0]) \(fields[1])"
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path(name))
    }

    func authorize(_ key: KeyPair) throws {
        try write("authorized_keys", userKey.publicKey + "\n" + key.publicKey + "\n")
    }
}

/// A throwaway local account with a known password (useradd + chpasswd; needs root), for
/// password authentication against an sshd without PAM, which checks /etc/shadow itself.
/// Removed (userdel) when it goes away.
final class TemporaryAccount: @unchecked Sendable {
    let name: String
    let password: String

    init() throws {
        name = "dploy-t\(UInt32.random(in: 0...UInt32.max) % 1_000_000)"
        password = "pw-\(UUID().uuidString.prefix(13))"
        try tool("/usr/sbin/useradd", ["--no-create-home", "--home-dir", "/tmp", "--shell", "/bin/sh", name])
        do {
            try tool("/usr/sbin/chpasswd", [], input: "\(name):\(password)\n")
        } catch {
            _ = try? tool("/usr/sbin/userdel", [name])
            throw error
        }
    }

    deinit { _ = try? tool("/usr/sbin/userdel", [name]) }
}
