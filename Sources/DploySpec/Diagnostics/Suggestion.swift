/// "Did you mean" for misspelled field names and references, and for BIOS attribute names
/// checked against what a BIOS lists (DployPlan).
public enum Suggestion {
    /// The closest candidate within a small edit distance, or nil when none is close enough
    /// to be a plausible typo.
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let lowered = word.lowercased()
        let wordIsASCII = word.utf8.allSatisfy { $0 < 0x80 }
        var best: (candidate: String, distance: Int)?
        for candidate in candidates {
            let allowed = max(1, min(3, candidate.count / 3))
            // A BIOS lists hundreds of names, and a spec may name a thousand attributes: the
            // edit distance is at least the difference in length, so most are passed over
            // without lowering or comparing them. (Only ASCII keeps its length when lowered.)
            if wordIsASCII, candidate.utf8.allSatisfy({ $0 < 0x80 }), abs(candidate.utf8.count - lowered.utf8.count) > allowed { continue }
            let distance = editDistance(lowered, candidate.lowercased())
            guard distance <= allowed else { continue }
            if best == nil || distance < best!.distance { best = (candidate, distance) }
        }
        return best?.candidate
    }

    /// " (did you mean 'x'?)" or the empty string. The candidate is shown with control
    /// characters escaped: a BIOS names its own attributes, and a name it reports must not
    /// send an escape sequence to the terminal that prints the plan.
    public static func phrase(for word: String, in candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\(Names.escapingControls($0))'?" } ?? ""
    }

    /// Levenshtein distance over Unicode scalars; inputs are short field names.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
