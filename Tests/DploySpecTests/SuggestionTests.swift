import DploySpec
import DployTestSupport
import Testing

@Suite("Did you mean", .ownThread)
struct SuggestionTests {
    @Test("a name a BIOS reports is suggested with its control characters escaped, never sent to the terminal as they are")
    func escapesTheCandidate() {
        #expect(Suggestion.phrase(for: "Evil", in: ["Evil\u{1B}"]) == "; did you mean 'Evil\\u{1B}'?")
        #expect(!Suggestion.phrase(for: "Evil", in: ["Evil\u{1B}[K"]).unicodeScalars.contains("\u{1B}"))
    }

    @Test("the closest name among hundreds is found, whatever the case; none when nothing is near")
    func closestAmongMany() {
        let listed = (0..<300).map { "Attribute\($0)" } + ["ProcHyperthreading", "ProcTurbo"]
        #expect(Suggestion.phrase(for: "ProcHyperThreading", in: listed) == "; did you mean 'ProcHyperthreading'?")
        #expect(Suggestion.phrase(for: "ProcTurb", in: listed) == "; did you mean 'ProcTurbo'?")
        #expect(Suggestion.phrase(for: "WorkloadProfile", in: listed) == "")
    }
}
