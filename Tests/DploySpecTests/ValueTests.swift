import DploySpec
import DployTestSupport
import Testing

@Suite("Values", .ownThread)
struct ValueTests {
    @Test("MAC addresses are normalised to lower-case colons", arguments: [
        "94:18:82:00:00:AB", "94-18-82-00-00-ab", "94-18-82-00-00-AB",
    ])
    func macNormalised(_ text: String) throws {
        let mac = try MACAddress.parse(text).get()
        #expect(mac.description == "94:18:82:00:00:ab")
        #expect(mac.hyphenated == "94-18-82-00-00-ab")
    }

    @Test("malformed MAC addresses are refused", arguments: [
        "94:18:82:00:00", "94:18:82:00:00:0g", "94:18-82:00:00:01", "9418.8200.0001", "94:18:82:00:00:001", "",
    ])
    func macRefused(_ text: String) {
        #expect(MACAddress(text) == nil)
    }

    @Test("certificate fingerprints are read in openssl's colon form or as plain hex, any case")
    func certificateFingerprints() throws {
        let colons = "3A:7F:0C:91:D2:45:6B:88:E1:0F:AA:59:23:C4:7D:E8:90:12:B6:5F:4E:D3:21:9C:08:F7:6A:B5:C3:1E:94:D0"
        let forms = [colons, colons.lowercased(), colons.replacingOccurrences(of: ":", with: ""),
                     colons.replacingOccurrences(of: ":", with: "").lowercased()]
        for form in forms {
            let fingerprint = try CertificateFingerprint.parse(form).get()
            #expect(fingerprint.description == colons, "printed as openssl prints it")
            #expect(fingerprint.bytes.count == 32)
        }
        let sha1 = String(colons.prefix(59))
        for bad in [sha1, String(colons.dropLast(3)), colons.replacingOccurrences(of: ":", with: "-"), colons + ":00",
                    "3A7F:" + colons.dropFirst(6), String(repeating: "g", count: 64), ""] {
            #expect(throws: ValueError.self, "\(bad)") { try CertificateFingerprint.parse(bad).get() }
        }
    }

    @Test("IPv4 and IPv6 are accepted and printed canonically")
    func ipAddresses() throws {
        #expect(try IPAddress.parse("198.18.0.21").get().description == "198.18.0.21")
        #expect(try IPAddress.parse("2001:DB8:0:0::1").get().description == "2001:db8::1")
        for bad in ["198.18.0.256", "198.18.0", "::g", "host.example.net"] {
            #expect(throws: ValueError.self) { try IPAddress.parse(bad).get() }
        }
    }

    @Test("an IPv4 address a dual-stack socket reports as ::ffff:a.b.c.d is that IPv4 address")
    func mappedAddresses() throws {
        let mapped = try IPAddress.parse("::ffff:198.18.0.21").get()
        #expect(mapped != (try IPAddress.parse("198.18.0.21").get()), "parsed as written")
        #expect(mapped.unmapped == (try IPAddress.parse("198.18.0.21").get()))
        #expect(mapped.unmapped.description == "198.18.0.21")
        for other in ["2001:db8::1", "::1", "::198.18.0.21", "::fffe:198.18.0.21", "198.18.0.21"] {
            let address = try IPAddress.parse(other).get()
            #expect(address.unmapped == address, "\(other)")
        }
    }

    @Test("YAML 1.2 scalars: on/off/yes stay strings, MACs never become numbers")
    func yaml12() {
        #expect(YAMLScalar(plain: "on") == .string("on"))
        #expect(YAMLScalar(plain: "yes") == .string("yes"))
        #expect(YAMLScalar(plain: "12:34:56:00:00:01") == .string("12:34:56:00:00:01"))
        #expect(YAMLScalar(plain: "true") == .bool(true))
        #expect(YAMLScalar(plain: "0x1F") == .int(31))
        #expect(YAMLScalar(plain: "3.08") == .double(3.08))
        #expect(YAMLScalar(plain: "~") == .null)
        #expect(YAMLScalar(plain: "1e3") == .double(1000))
        #expect(YAMLScalar(plain: "e3") == .string("e3"))
    }

    @Test("durations take one unit: s, m or h")
    func durations() throws {
        #expect(try Duration.parseSpec("90s").get() == .seconds(90))
        #expect(try Duration.parseSpec("5m").get() == .seconds(300))
        #expect(try Duration.parseSpec("2h").get().specDescription == "2h")
        for bad in ["10 minutes", "0s", "1.5h", "-5m", "m", "05m"] {
            #expect(throws: ValueError.self) { try Duration.parseSpec(bad).get() }
        }
    }

    @Test("names are DNS labels")
    func names() {
        #expect(Names.isDNSLabel("web-01"))
        #expect(!Names.isDNSLabel("-web"))
        #expect(!Names.isDNSLabel("Web"))
        #expect(!Names.isDNSLabel(String(repeating: "a", count: 64)))
        #expect(Names.isLabelKey("dploy.org/rack"))
        #expect(!Names.isLabelValue("has space"))
    }
}
