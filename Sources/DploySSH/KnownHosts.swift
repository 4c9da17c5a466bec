import CSSH2
import Foundation

/// The key a server presented in the handshake.
struct PresentedHostKey {
    /// The public key blob (SSH wire format), as known_hosts stores it in base64.
    let blob: [UInt8]
    /// libssh2's LIBSSH2_HOSTKEY_TYPE_*.
    let type: Int32
    /// `SHA256:` and the unpadded base64 of the blob's SHA-256, as `ssh` prints it.
    let fingerprint: String

    /// The algorithm name the blob starts with ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa").
    var algorithm: String? { KnownHosts.algorithm(of: blob) }

    var knownHostMask: Int32 { KnownHosts.knownHostMask(forHostKeyType: type) }
}

/// One OpenSSH known_hosts file, read through libssh2's knownhost API (plain and hashed
/// names), looked up by the name OpenSSH records: `host` on port 22, else `[host]:port`.
final class KnownHosts {
    enum Check: Equatable {
        case match
        case notFound
        case mismatch(expected: String)
        case revoked
    }

    let path: String
    private let hosts: OpaquePointer
    /// Keys (base64) on `@revoked` lines, refused for every host.
    private var revoked: Set<String> = []

    /// Reads `path`; a file that does not exist reads as empty. Lines libssh2 cannot read
    /// (key types it does not know, `@cert-authority`) are skipped: they can match no key
    /// libssh2 negotiates.
    init(path: String, session: OpaquePointer) throws(KnownHostsProblem) {
        self.path = path
        guard let hosts = libssh2_knownhost_init(session) else { throw KnownHostsProblem("libssh2 could not allocate a known hosts list") }
        self.hosts = hosts
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KnownHostsProblem("cannot read it: \((error as NSError).localizedDescription)")
        }
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("@cert-authority") { continue }
            if line.hasPrefix("@revoked") {
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                if fields.count >= 4 { revoked.insert(String(fields[3])) }
                continue
            }
            _ = line.withCString { libssh2_knownhost_readline(hosts, $0, strlen($0), LIBSSH2_KNOWNHOST_FILE_OPENSSH) }
        }
    }

    deinit { libssh2_knownhost_free(hosts) }

    /// The name OpenSSH writes and looks up for a host and port.
    static func entryName(host: String, port: Int) -> String {
        let name = host.lowercased()
        return port == 22 ? name : "[\(name)]:\(port)"
    }

    func check(name: String, key: PresentedHostKey) -> Check {
        if revoked.contains(Data(key.blob).base64EncodedString()) { return .revoked }
        var entry: UnsafeMutablePointer<libssh2_knownhost>?
        let result = key.blob.withUnsafeBufferPointer { blob in
            blob.withMemoryRebound(to: CChar.self) { bytes in
                // Port -1: the name already is OpenSSH's "[host]:port", so only it is looked up
                // (libssh2 would otherwise also accept a key recorded for the bare host).
                libssh2_knownhost_checkp(hosts, name, -1, bytes.baseAddress, bytes.count,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key.knownHostMask,
                                         &entry)
            }
        }
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            let stored = dploy_ssh2_knownhost_key(entry).map { String(cString: $0) } ?? ""
            return .mismatch(expected: Data(base64Encoded: stored).map { KnownHosts.fingerprint(of: Array($0)) } ?? "(unreadable key)")
        default: return .notFound
        }
    }

    /// The host key types recorded for `name`, so the handshake can ask for those first (as
    /// ssh does): libssh2 answers "mismatch" for a made-up key exactly when an entry of that
    /// type exists for the name.
    func recordedTypes(name: String) -> [Int32] {
        let probe: [CChar] = [0x78]
        return KnownHosts.preferenceOrder.filter { type in
            var entry: UnsafeMutablePointer<libssh2_knownhost>?
            let mask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | KnownHosts.knownHostMask(forHostKeyType: type)
            return libssh2_knownhost_checkp(hosts, name, -1, probe, probe.count, mask, &entry) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH
        }
    }

    /// Appends `name algorithm base64` to the file, creating it with mode 0600 if missing.
    static func append(name: String, key: PresentedHostKey, to path: String) throws(KnownHostsProblem) {
        guard let algorithm = key.algorithm else { throw KnownHostsProblem("the host key has no algorithm name") }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KnownHostsProblem("cannot write it: \(TCPSocket.errorText(errno))") }
        defer { close(fd) }
        var prefix = ""
        var status = stat()
        if fstat(fd, &status) == 0, status.st_size > 0, let last = lastByte(path), last != 10 { prefix = "\n" }
        let line = Array("\(prefix)\(name) \(algorithm) \(Data(key.blob).base64EncodedString())\n".utf8)
        var written = 0
        while written < line.count {
            let count = line[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw KnownHostsProblem("cannot write it: \(TCPSocket.errorText(errno))")
            }
            written += count
        }
        guard fsync(fd) == 0 else { throw KnownHostsProblem("cannot write it: \(TCPSocket.errorText(errno))") }
    }

    private static func lastByte(_ path: String) -> UInt8? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let end = try? handle.seekToEnd(), end > 0 else { return nil }
        try? handle.seek(toOffset: end - 1)
        return (try? handle.read(upToCount: 1))?.first
    }

    /// `SHA256:` + unpadded base64, as OpenSSH prints fingerprints.
    static func fingerprint(of blob: [UInt8]) -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = blob.withUnsafeBytes { dploy_sha256($0.baseAddress, $0.count, &digest) }
        return fingerprint(sha256: digest)
    }

    static func fingerprint(sha256 digest: [UInt8]) -> String {
        let base64 = Data(digest).base64EncodedString()
        return "SHA256:" + base64.replacingOccurrences(of: "=", with: "")
    }

    /// The first SSH string of a key blob: its algorithm name.
    static func algorithm(of blob: [UInt8]) -> String? {
        guard blob.count >= 4 else { return nil }
        let length = blob[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length > 0, length <= blob.count - 4 else { return nil }
        return String(decoding: blob[4..<(4 + length)], as: UTF8.self)
    }

    /// Host key types, best first; DSA is left out (OpenSSH no longer offers it).
    static let preferenceOrder: [Int32] = [
        LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_HOSTKEY_TYPE_ECDSA_384,
        LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_HOSTKEY_TYPE_RSA,
    ]

    /// The method names libssh2 negotiates for a host key type.
    static func methodNames(forHostKeyType type: Int32) -> [String] {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return ["ssh-ed25519"]
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return ["ecdsa-sha2-nistp256"]
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return ["ecdsa-sha2-nistp384"]
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return ["ecdsa-sha2-nistp521"]
        case LIBSSH2_HOSTKEY_TYPE_RSA: return ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        default: return []
        }
    }

    /// The preference list for LIBSSH2_METHOD_HOSTKEY: recorded types first, then the rest.
    static func methodPreference(recorded: [Int32]) -> String {
        let order = recorded + preferenceOrder.filter { !recorded.contains($0) }
        return order.flatMap(methodNames(forHostKeyType:)).joined(separator: ",")
    }

    static func knownHostMask(forHostKeyType type: Int32) -> Int32 {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519
        default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
    }
}

/// Why a known_hosts file could not be used (wrapped into SSHError with the target).
struct KnownHostsProblem: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
