import DployRender
import DploySpec
import DployTestSupport
import Testing

/// The boot decider's verdict × the loader that asked → what the loader is told. The
/// decider itself is tested as a table in DployPlanTests; here each verdict must come out
/// the same in every loader's language, and leaving for the disk must work on UEFI too.
@Suite("Every loader renders the same boot decision", .ownThread)
struct BootAnswerTests {
    enum Verdict: String, CaseIterable, Sendable {
        case install, machineDisk, strangerDisk, discovery
    }

    struct Row: CustomTestStringConvertible, Sendable {
        let verdict: Verdict
        let loader: BootLoader
        /// Lines the answer has, in order (each a line's start).
        let lines: [String]
        /// Words the answer never has.
        let never: [String]
        var testDescription: String { "\(verdict.rawValue) through \(loader.rawValue)" }
    }

    static let localNever = ["kernel", "KERNEL", "linux ", "initrd"]
    static let rows: [Row] = [
        Row(verdict: .install, loader: .ipxe, lines: ["#!ipxe", "kernel http://198.18.0.1:8080/files/debian-12/linux", "initrd ", "boot"], never: ["exit"]),
        Row(verdict: .install, loader: .pxelinux, lines: ["DEFAULT dploy", "  KERNEL http://198.18.0.1:8080/files/debian-12/linux", "  INITRD ", "  APPEND "], never: ["LOCALBOOT"]),
        Row(verdict: .install, loader: .grub, lines: ["set timeout=0", "  linux (http,198.18.0.1:8080)/files/debian-12/linux", "  initrd (http,"], never: ["chainloader", "exit"]),
        // UEFI firmware shows its menu after a loader that returns success: iPXE leaves with
        // an error, GRUB (whose exit always succeeds) chainloads the disk's own loader.
        Row(verdict: .machineDisk, loader: .ipxe, lines: ["#!ipxe", "echo dploy: web-01 boots its local disk", "exit 1"], never: localNever),
        Row(verdict: .machineDisk, loader: .pxelinux, lines: ["DEFAULT dploy", "  LOCALBOOT 0"], never: localNever),
        Row(verdict: .machineDisk, loader: .grub, lines: ["menuentry 'dploy: local disk' {", "  for loader in /efi/debian/shimx64.efi",
                                                          "      if regexp '^hd' $root; then chainloader $loader; boot; fi", "  exit 1"], never: localNever),
        Row(verdict: .strangerDisk, loader: .ipxe, lines: ["#!ipxe", "echo dploy: not in git", "exit 1"], never: localNever),
        Row(verdict: .strangerDisk, loader: .pxelinux, lines: ["# dploy: not in git", "  LOCALBOOT 0"], never: localNever),
        Row(verdict: .strangerDisk, loader: .grub, lines: ["# dploy: not in git", "    if search --no-floppy --set=root --file $loader; then", "  exit 1"], never: localNever),
        Row(verdict: .discovery, loader: .ipxe, lines: ["#!ipxe", "kernel http://198.18.0.1:8080/files/discovery/vmlinuz initrd=initrd.img console=ttyS0 dploy.server=http://198.18.0.1:8080 dploy.mac=94:18:82:99:00:01", "boot"], never: ["exit"]),
        Row(verdict: .discovery, loader: .pxelinux, lines: ["  KERNEL http://198.18.0.1:8080/files/discovery/vmlinuz", "  APPEND console=ttyS0 dploy.server=http://198.18.0.1:8080 dploy.mac=94:18:82:99:00:01"], never: ["LOCALBOOT"]),
        Row(verdict: .discovery, loader: .grub, lines: ["  linux (http,198.18.0.1:8080)/files/discovery/vmlinuz console=ttyS0 dploy.server=http://198.18.0.1:8080 dploy.mac=94:18:82:99:00:01"], never: ["exit", "chainloader"]),
    ]

    @Test("the verdict in the loader's language", arguments: rows)
    func rendered(_ row: Row) throws {
        let lab = try GoldenFileTests.lab()
        let web01 = lab.machine("web-01")
        // The profile boots the loader that asks (a pxelinux config for an iPXE profile chains iPXE).
        let profile = Profile(metadata: ObjectMeta(name: "debian-12", location: SourceLocation(file: "p.yaml", line: 1, column: 1)),
                              loader: row.loader, source: .boot(kernel: "http://198.18.0.1:8080/files/debian-12/linux",
                                            initrd: "http://198.18.0.1:8080/files/debian-12/initrd.gz", args: nil))
        let answer: BootAnswer = switch row.verdict {
        case .install: .machine(web01, .install(profile))
        case .machineDisk: .machine(web01, .localDisk)
        case .strangerDisk: .localDisk(message: "not in git")
        case .discovery: .environment(BootEnvironment(kernel: "http://198.18.0.1:8080/files/discovery/vmlinuz",
                                                      initrd: "http://198.18.0.1:8080/files/discovery/initrd.img", args: "console=ttyS0"),
                                      mac: MACAddress("94:18:82:99:00:01")!, purpose: "discovery", message: "discovering", arguments: "")
        }
        let text = answer.rendered(for: row.loader, server: GoldenFileTests.server)
        var rest = Substring(text)
        for line in row.lines {
            let found = try #require(rest.range(of: "\n" + line) ?? (rest.hasPrefix(line) ? rest.startIndex..<rest.startIndex : nil),
                                     "no line starting \"\(line)\" (in order) in:\n\(text)")
            rest = rest[found.upperBound...]
        }
        for word in row.never { #expect(!text.contains(word), "\"\(word)\" in:\n\(text)") }
    }

    @Test("every verdict has a row for every loader")
    func complete() {
        for verdict in Verdict.allCases {
            #expect(Set(Self.rows.filter { $0.verdict == verdict }.map(\.loader)) == Set(BootLoader.allCases), "\(verdict)")
        }
    }
}

@Suite("dnsmasq's hosts file", .ownThread)
struct DnsmasqHostsTests {
    @Test("a name dnsmasq would read as a keyword (ignore, a lease time) is not handed out, and the line says why")
    func keywordNames() throws {
        let lab = try GoldenFileTests.lab()
        let hosts = ["web-01", "ignore", "2m", "120", "infinite", "Ignore", "web-2m"].enumerated().map { index, name in
            var host = DHCPHost(lab.machine("web-01"))
            (host.name, host.hostname) = (name, nil)
            host.mac = MACAddress(String(format: "02:00:00:00:00:%02x", index))!
            return host
        }
        let text = DnsmasqConfig.hostsFile(hosts)
        for keyword in ["ignore", "2m", "120", "infinite", "Ignore"] {
            #expect(text.contains("# \(keyword): no name handed out: dnsmasq reads '\(keyword)' as a keyword here\n"))
            #expect(!text.contains(",\(keyword)\n"), "\(keyword) as the last field")
        }
        #expect(text.contains("02:00:00:00:00:00,198.18.0.21,web-01\n"))
        #expect(text.contains(",web-2m\n"), "a name that only ends like a lease time is a name")
    }
}
