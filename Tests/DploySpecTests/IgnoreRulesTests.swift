import DploySpec
import DployTestSupport
import Testing

@Suite(".dployignore", .ownThread)
struct IgnoreRulesTests {
    let rules = IgnoreRules("""
        # comments and blank lines are skipped

        drafts/
        *.bak.yaml
        /top-only.yaml
        machines/**/old-*.yaml
        !machines/keep/old-keep.yaml
        [Tt]emp*
        [z-a]reversed
        """)

    @Test("gitignore patterns", arguments: [
        ("drafts", true, true),
        ("drafts/web-05.yaml", false, true),
        ("nested/drafts/x.yaml", false, true),
        ("drafts.yaml", false, false),
        ("machines/r1.bak.yaml", false, true),
        ("top-only.yaml", false, true),
        ("machines/top-only.yaml", false, false),
        ("machines/a/b/old-web.yaml", false, true),
        ("machines/old-web.yaml", false, true),
        ("machines/keep/old-keep.yaml", false, false),
        ("Temp.yaml", false, true),
        ("temporary/x.yaml", false, true),
        ("machines/r1.yaml", false, false),
        ("zreversed", false, false),
    ])
    func matches(_ path: String, _ isDirectory: Bool, _ ignored: Bool) {
        #expect(rules.isIgnored(path, isDirectory: isDirectory) == ignored)
    }
}
