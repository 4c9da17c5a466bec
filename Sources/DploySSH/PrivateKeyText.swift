import Foundation

/// What can be told about a private key without decrypting it, for error messages.
enum PrivateKeyText {
    /// The key's algorithm, when its text says it: PEM RSA, or an OpenSSH-format key (whose
    /// public half is stored unencrypted: magic, cipher, kdf, kdf options, count, public key).
    static func algorithm(of text: String) -> String? {
        if text.contains("-----BEGIN RSA PRIVATE KEY-----") { return "ssh-rsa" }
        if text.contains("-----BEGIN EC PRIVATE KEY-----") { return "ecdsa" }
        let begin = "-----BEGIN OPENSSH PRIVATE KEY-----", end = "-----END OPENSSH PRIVATE KEY-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex),
              let data = Data(base64Encoded: String(text[start.upperBound..<stop.lowerBound]).filter { !$0.isWhitespace })
        else { return nil }
        var bytes = ArraySlice(data)
        let magic = Array("openssh-key-v1\0".utf8)
        guard bytes.starts(with: magic) else { return nil }
        bytes = bytes.dropFirst(magic.count)
        for _ in 0..<3 { guard skipString(&bytes) else { return nil } }   // cipher, kdf, kdf options
        guard bytes.count >= 4 else { return nil }
        bytes = bytes.dropFirst(4)                                        // number of keys
        guard let publicKey = readString(&bytes) else { return nil }
        return KnownHosts.algorithm(of: Array(publicKey))
    }

    private static func readString(_ bytes: inout ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard bytes.count >= 4 else { return nil }
        let length = bytes.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        bytes = bytes.dropFirst(4)
        guard length <= bytes.count else { return nil }
        defer { bytes = bytes.dropFirst(length) }
        return bytes.prefix(length)
    }

    private static func skipString(_ bytes: inout ArraySlice<UInt8>) -> Bool {
        readString(&bytes) != nil
    }
}
