import DploySpec
import DployTestSupport
import Testing

@Suite("Sites: which machines a site's controller converges", .ownThread)
struct SiteTests {
    static let london = """
        apiVersion: dploy.org/v1
        kind: Group
        metadata: {name: london}
        spec: {selector: {dc: lon}, defaults: {site: lon}}
        """

    func machine(_ name: String, _ mac: String, labels: String = "{role: web}", extra: String = "") -> String {
        Sample.machine(name, mac: mac, extra: extra).replacingOccurrences(of: "labels: {role: web}", with: "labels: \(labels)")
    }

    @Test("a machine's site comes from spec.site, its site label, or a group default; none is the default site")
    func siteOfEachMachine() throws {
        let result = load([
            "p.yaml": Sample.profile,
            "g.yaml": Self.london,
            "m.yaml": [
                machine("here-01", "94:18:82:00:00:01"),
                machine("lon-01", "94:18:82:00:00:02", labels: "{dc: lon}"),
                machine("lon-02", "94:18:82:00:00:03", labels: "{site: lon}"),
                machine("ams-01", "94:18:82:00:00:04", labels: "{dc: lon}", extra: "  site: ams\n"),
            ].joined(separator: "\n---\n"),
        ])
        #expect(result.isValid, "\(rendered(result))")
        #expect(result.fleet.machines(ofSite: "default").machines.map(\.name) == ["here-01"])
        #expect(result.fleet.machines(ofSite: "lon").machines.map(\.name) == ["lon-01", "lon-02"], "the machine's own site wins over the group's")
        #expect(result.fleet.machines(ofSite: "ams").machines.map(\.name) == ["ams-01"])
        #expect(result.fleet.machines(ofSite: "nowhere").machines.isEmpty)
        let lon = result.fleet.machines(ofSite: "lon")
        #expect(lon.groups == result.fleet.groups && lon.profiles == result.fleet.profiles, "every other document is kept")
    }

    @Test("a fleet that names no site is all the default site")
    func noSitesAnywhere() {
        let result = load(["m.yaml": machine("web-01", "94:18:82:00:00:01") + "\n---\n" + machine("web-02", "94:18:82:00:00:02")])
        #expect(result.isValid, "\(rendered(result))")
        #expect(result.fleet.machines(ofSite: Site.defaultName) == result.fleet)
        #expect(result.fleet.machines(ofSite: "lon").machines.isEmpty)
    }

    @Test("a site label that disagrees with spec.site, or is not a name, is an error at the machine")
    func badSites() {
        let result = load([
            "a.yaml": machine("web-01", "94:18:82:00:00:01", labels: "{site: lon}", extra: "  site: ams\n"),
            "b.yaml": machine("web-02", "94:18:82:00:00:02", labels: "{site: Lon_1}"),
            "c.yaml": machine("web-03", "94:18:82:00:00:03", extra: "  site: \"lon 1\"\n"),
        ])
        let messages = rendered(result)
        #expect(messages.contains { $0.hasPrefix("a.yaml:8:9: 'spec.site' is 'ams' but the label 'site' is 'lon'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("b.yaml:4:9: label 'site' must name a site") && $0.contains("\"Lon_1\"") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("c.yaml:8:9: 'spec.site' is not a valid name: 'lon 1'") }, "\(messages)")
        #expect(messages.count == 3, "\(messages)")
    }

    @Test("two groups of equal priority that give a machine different sites are an error, as for any default")
    func conflictingGroupSites() {
        let result = load([
            "g.yaml": Self.london + "\n---\n" + """
                apiVersion: dploy.org/v1
                kind: Group
                metadata: {name: web}
                spec: {selector: {role: web}, defaults: {site: ams}}
                """,
            "m.yaml": machine("web-01", "94:18:82:00:00:01", labels: "{role: web, dc: lon}"),
        ])
        #expect(rendered(result).contains { $0.contains("groups 'london' and 'web' both set 'site' with priority 0 but disagree") }, "\(rendered(result))")
    }
}
