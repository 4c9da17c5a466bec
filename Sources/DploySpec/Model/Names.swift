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

    /// Control characters (C0, DEL, and C1, which holds NEL) and the Unicode line and
    /// paragraph separators: boot scripts, kernel command lines, installer answers and YAML
    /// end a line (or do worse) at one of them.
    public static func isControlOrLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// Text that reaches a boot script, a kernel command line or an installer answer: one
    /// line without control characters, or a spec author could add a command of their own.
    public static func oneLine(_ text: String) -> Result<String, ValueError> {
        guard text.unicodeScalars.contains(where: isControlOrLineBreak) else { return .success(text) }
        return .failure(ValueError(
            "must be one line without control characters, found \(quoted(text)) (it goes into boot scripts and installer answers)"))
    }

    /// Kernel arguments: one line, and no word that a boot loader reads as its own syntax
    /// instead of passing it to the kernel. iPXE ends a command at a `||`, `&&` or `;` word,
    /// starts a comment at a word beginning with `#`, and expands `${…}` from its settings,
    /// with no way to escape any of them; a kernel has no use for them.
    public static func kernelArguments(_ text: String) -> Result<String, ValueError> {
        if case .failure(let error) = oneLine(text) { return .failure(error) }
        if let word = bootLoaderWords(text).first(where: isBootLoaderSyntax) {
            return .failure(ValueError("must not contain the word '\(word)': iPXE would read it as a command of its own, "
                + "not a kernel argument"))
        }
        if containsSettingReference(text) {
            return .failure(ValueError("must not contain '${': iPXE would replace it with one of its settings"))
        }
        return .success(text)
    }

    /// Whether `text` holds `$` then `{`, compared by scalars as iPXE reads bytes: `{` with a
    /// combining mark after it is one character, which a search by characters misses.
    public static func containsSettingReference(_ text: some StringProtocol) -> Bool {
        zip(text.unicodeScalars, text.unicodeScalars.dropFirst()).contains { $0 == "$" && $1 == "{" }
    }

    /// A word iPXE's command line reads itself: a command separator or the start of a comment.
    public static func isBootLoaderSyntax(_ word: String) -> Bool {
        word == "||" || word == "&&" || word == ";" || word.unicodeScalars.first == "#"
    }

    /// The words a boot loader sees: split at space scalars, as iPXE splits bytes. Split by
    /// characters, a space followed by a combining mark is one character, and `&&` after it
    /// would hide inside a longer word (`make fuzz` found it).
    public static func bootLoaderWords(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: " ").map { String(String.UnicodeScalarView($0)) }
    }

    /// A block device: `/dev/`, then names of letters, digits and `. _ - : +` (none starting
    /// with a dot), so the path stays in /dev and means nothing to a shell or an installer.
    public static func devicePath(_ text: String) -> Result<String, ValueError> {
        let names = text.split(separator: "/", omittingEmptySubsequences: false).dropFirst(2)
        let valid = text.hasPrefix("/dev/") && text.utf8.count <= 255 && names.allSatisfy { name in
            guard let first = name.utf8.first, first != UInt8(ascii: ".") else { return false }
            return name.utf8.allSatisfy { isAlphanumericAnyCase($0) || "._-:+".utf8.contains($0) }
        }
        return valid ? .success(text) : .failure(ValueError(
            "must be a device path such as /dev/sda or /dev/disk/by-id/NAME, found \(quoted(text))"))
    }

    /// `text` in double quotes with control characters and line breaks escaped, so a message
    /// that quotes a hostile value stays on its own line.
    package static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"", "\\": result += "\\" + String(scalar)
            case _ where isShownEscaped(scalar): result += escaped(scalar)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// `text` with control characters and line breaks written as escapes (`\n`, `\u{1B}`), so
    /// it prints as one line and sends no escape sequence to a terminal.
    package static func escapingControls(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isShownEscaped) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            if isShownEscaped(scalar) { result += escaped(scalar) } else { result.unicodeScalars.append(scalar) }
        }
        return result
    }

    /// What `quoted` and `escapingControls` write as an escape rather than as itself.
    private static func isShownEscaped(_ scalar: Unicode.Scalar) -> Bool {
        isControlOrLineBreak(scalar) || isInvisibleFormat(scalar)
    }

    /// Zero-width and bidirectional formatting characters (U+200B–200F, U+202A–202E,
    /// U+2066–2069): invisible, and a right-to-left override reverses the rest of a line on
    /// screen. Escaped wherever dploy shows a value or a path.
    static func isInvisibleFormat(_ scalar: Unicode.Scalar) -> Bool {
        (0x200B...0x200F).contains(scalar.value) || (0x202A...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        default: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        }
    }

    /// An `http://` or `https://` URL with a host.
    public static func httpURL(_ text: String) -> Result<String, ValueError> {
        let failure = ValueError("is not an http:// or https:// URL: '\(text)'")
        let rest: Substring
        if text.hasPrefix("https://") { rest = text.dropFirst(8) } else if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else { return .failure(failure) }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        // Boot scripts carry these URLs: no whitespace, no control characters, and no `${`,
        // which iPXE would replace with one of its settings.
        if containsSettingReference(text) {
            return .failure(ValueError("must not contain '${': iPXE would replace it with one of its settings"))
        }
        // By scalars: U+0600 and a space are one character that is not whitespace, and the
        // loaders split the URL's bytes at that space.
        guard !host.isEmpty, !text.unicodeScalars.contains(where: \.properties.isWhitespace),
              !text.unicodeScalars.contains(where: isControlOrLineBreak) else { return .failure(failure) }
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

    static func isAlphanumericAnyCase(_ byte: UInt8) -> Bool {
        isAlphanumeric(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        isAlphanumericAnyCase(byte) && (byte <= UInt8(ascii: "9") || (byte | 0x20) <= UInt8(ascii: "f"))
    }
}
