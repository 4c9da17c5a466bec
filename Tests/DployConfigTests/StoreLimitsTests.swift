import DployConfig
import DploySpec
import Testing

@Suite("store: limits in dploy.yaml")
struct StoreLimitsTests {
    func parse(_ text: String) -> Result<ControllerConfig, ControllerConfigError> {
        ControllerConfig.parse(SpecFile(path: "dploy.yaml", contents: Array(text.utf8)), relativeTo: "/srv/dploy")
    }

    @Test("the defaults hold, each limit can be set, and a negative one is refused at its line")
    func limits() throws {
        let defaults = try parse("source: {path: specs}\n").get()
        #expect(defaults.retention.maxDiscovered == 10_000)
        #expect(defaults.retention.maxEvents == 100_000)

        let set = try parse("source: {path: specs}\nstore:\n  sqlite: state/dploy.db\n  maxDiscovered: 50\n  maxEvents: 500\n").get()
        #expect(set.retention.maxDiscovered == 50)
        #expect(set.retention.maxEvents == 500)
        #expect(set.storePath == "/srv/dploy/state/dploy.db")

        guard case .failure(let error) = parse("source: {path: specs}\nstore:\n  sqlite: state/dploy.db\n  maxDiscovered: -1\n") else {
            Issue.record("a negative limit was accepted")
            return
        }
        #expect(String(describing: error).contains("dploy.yaml:4:18"), "\(error)")
    }
}
