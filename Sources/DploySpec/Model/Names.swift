/// Syntax rules for names and small value types used across the spec.
public enum Names {
    /// A DNS label (RFC 1123): what every object name must be, so it can become a host name,
    /// a file name and a URL path segment without escaping.
    public static func dnsLabel(_ text: String) -> Result<String, ValueError> {
        isDNSLabel(text) ? .success(text) : .failure(ValueError(
            "is not a valid name: '\(text)' (use 1 to 63 lower-case letters, digits and '-', starting and ending with a letter or digit)"))
    }

    public static func isDNSLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard (1...63).contains(bytes.count), isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// A host name: dot-separated DNS labels, 253 characters at most.
    public static func hostname(_ text: String) -> Result<String, ValueError> {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.utf8.count <= 253, labels.allSatisfy({ isDNSLabel(String($0)) }) else {
            return .failure(ValueError("is not a valid host name: '\(text)' (dot-separated labels of a-z, 0-9 and '-')"))
        }
        return .success(text)
    }

    /// An `http://` or `https://` URL with a host.
    public static func httpURL(_ text: String) -> Result<String, ValueError> {
        let failure = ValueError("is not an http:// or https:// URL: '\(text)'")
        let rest: Substring
        if text.hasPrefix("https://") { rest = text.dropFirst(8) } else if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else { return .failure(failure) }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty, !text.contains(where: \.isWhitespace) else { return .failure(failure) }
        return .success(text)
    }

    /// A pinned BMC public key: `sha256//` and the base64 of the SHA-256 of the certificate's
    /// SubjectPublicKeyInfo (44 characters, ending in '='), the form curl's --pinnedpubkey takes.
    public static func pinnedKey(_ text: String) -> Result<String, ValueError> {
        let body = text.hasPrefix("sha256//") ? Array(text.utf8.dropFirst(8)) : []
        let base64 = body.count == 44 && body.last == UInt8(ascii: "=")
            && body.dropLast().allSatisfy { isAlphanumericAnyCase($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") }
        return base64 ? .success(text) : .failure(ValueError(
            "is not a pinned key: '\(text)' (use sha256// and the base64 SHA-256 of the BMC certificate's public key, 44 characters; "
            + "a certificate fingerprint such as AB:CD:… goes in 'bmc.fingerprint')"))
    }

    /// A SHA-256 digest as 64 hex digits, returned lower-case.
    public static func sha256(_ text: String) -> Result<String, ValueError> {
        guard text.utf8.count == 64, text.utf8.allSatisfy(isHexDigit) else {
            return .failure(ValueError("is not a SHA-256 digest: expected 64 hex digits, found \(text.count) characters"))
        }
        return .success(text.lowercased())
    }

    /// A Kubernetes-style label key: an optional DNS-name prefix and `/`, then a name of up
    /// to 63 characters.
    public static func isLabelKey(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return isLabelValue(text) && !text.isEmpty
        case 2:
            guard case .success = hostname(String(parts[0])) else { return false }
            return !parts[1].isEmpty && isLabelValue(String(parts[1]))
        default: return false
        }
    }

    /// A label value: empty, or up to 63 of `A-Z a-z 0-9 - _ .`, starting and ending alphanumeric.
    public static func isLabelValue(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        if bytes.isEmpty { return true }
        guard bytes.count <= 63, isAlphanumericAnyCase(bytes.first!), isAlphanumericAnyCase(bytes.last!) else {
            return false
        }
        return bytes.allSatisfy { isAlphanumericAnyCase($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumericAnyCase(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isAlphanumericAnyCase(byte) && (byte <= UInt8(ascii: "9") || (byte | 0x20) <= UInt8(ascii: "f"))
    }
}
