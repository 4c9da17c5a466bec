/// The patterns of a `.dployignore` file, in gitignore syntax: `#` comments, `!` to
/// re-include, a trailing `/` for folders only, a `/` elsewhere anchoring the pattern to
/// the top, and the wildcards `*`, `?`, `**` and `[…]`. The last matching pattern wins.
public struct IgnoreRules: Sendable, Hashable {
    struct Rule: Sendable, Hashable {
        var segments: [String]
        var negated: Bool
        var directoryOnly: Bool
        var anchored: Bool
    }

    var rules: [Rule]

    public init(_ text: String) {
        rules = text.split(separator: "\n", omittingEmptySubsequences: true).compactMap { rawLine in
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            while line.hasSuffix(" ") && !line.hasSuffix("\\ ") { line = line.dropLast() }
            guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
            var negated = false
            if line.hasPrefix("!") { negated = true; line = line.dropFirst() }
            else if line.hasPrefix("\\!") || line.hasPrefix("\\#") { line = line.dropFirst() }
            var directoryOnly = false
            if line.hasSuffix("/") { directoryOnly = true; line = line.dropLast() }
            let anchored = line.dropLast().contains("/")
            if line.hasPrefix("/") { line = line.dropFirst() }
            guard !line.isEmpty else { return nil }
            return Rule(segments: line.split(separator: "/").map(String.init), negated: negated,
                        directoryOnly: directoryOnly, anchored: anchored)
        }
    }

    /// Whether `path` (relative, `/`-separated) is ignored. A file inside an ignored folder
    /// is ignored too; as in git, it cannot be re-included.
    public func isIgnored(_ path: String, isDirectory: Bool) -> Bool {
        let components = path.split(separator: "/").map(String.init)
        for end in 1..<max(components.count, 1) where matches(Array(components[..<end]), isDirectory: true) {
            return true
        }
        return matches(components, isDirectory: isDirectory)
    }

    private func matches(_ components: [String], isDirectory: Bool) -> Bool {
        var ignored = false
        for rule in rules where !rule.directoryOnly || isDirectory {
            // A pattern without an inner '/' has one segment and matches a name at any depth.
            let hit = rule.anchored
                ? Self.match(rule.segments[...], components[...])
                : Self.match(rule.segments[...], components.suffix(1))
            if hit { ignored = !rule.negated }
        }
        return ignored
    }

    /// Matches pattern segments against path components; `**` spans any number of them.
    static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
        guard let head = pattern.first else { return path.isEmpty }
        if head == "**" {
            return path.indices.contains { match(pattern.dropFirst(), path[$0...]) } || match(pattern.dropFirst(), path[path.endIndex...])
        }
        guard let component = path.first, glob(Array(head.unicodeScalars)[...], Array(component.unicodeScalars)[...]) else {
            return false
        }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// Matches one path component against a glob with `*`, `?`, `[abc]`, `[a-z]`, `[!a]`.
    static func glob(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        switch first {
        case "*":
            return (text.startIndex...text.endIndex).contains { glob(pattern.dropFirst(), text[$0...]) }
        case "?":
            return !text.isEmpty && glob(pattern.dropFirst(), text.dropFirst())
        case "[":
            guard let close = pattern.dropFirst(2).firstIndex(of: "]"), let character = text.first else {
                return text.first == "[" && glob(pattern.dropFirst(), text.dropFirst())
            }
            var set = pattern[(pattern.startIndex + 1)..<close]
            let negated = set.first == "!" || set.first == "^"
            if negated { set = set.dropFirst() }
            var found = false
            var index = set.startIndex
            while index < set.endIndex {
                if index + 2 < set.endIndex, set[index + 1] == "-" {
                    // A reversed range like [z-a] matches nothing, as in git.
                    let (low, high) = (set[index].value, set[index + 2].value)
                    if low <= high, (low...high).contains(character.value) { found = true }
                    index += 3
                } else {
                    if set[index] == character { found = true }
                    index += 1
                }
            }
            return found != negated && glob(pattern[(close + 1)...], text.dropFirst())
        case "\\" where pattern.count > 1:
            let literal = pattern[pattern.startIndex + 1]
            return text.first == literal && glob(pattern.dropFirst(2), text.dropFirst())
        default:
            return text.first == first && glob(pattern.dropFirst(), text.dropFirst())
        }
    }
}
