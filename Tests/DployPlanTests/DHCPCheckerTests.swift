import DployApply
import DployController
import DployPlan
import DployRender
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// The DHCP configuration dploy writes for the lab is accepted by the real servers'
/// checkers, and a configuration they refuse stops the apply with every old file in place.
@Suite("DHCP configurations against the real checkers", .ownThread)
struct DHCPCheckerTests {
    @Test("dnsmasq --test accepts the lab's configuration", .requires(.dnsmasq))
    func dnsmasqAccepts() throws { try accepted(backend: "dnsmasq", file: "dploy.conf") }

    @Test("dhcpd -t accepts the lab's configuration", .requires(.dhcpd))
    func dhcpdAccepts() throws { try accepted(backend: "isc", file: "dhcpd-dploy.conf") }

    @Test("kea-dhcp4 -t accepts the lab's configuration", .requires(.keaDHCP4))
    func keaAccepts() throws { try accepted(backend: "kea", file: "kea-dhcp4.json") }

    @Test("dnsmasq --test accepts the lab's proxyDHCP configuration", .requires(.dnsmasq))
    func proxyAccepts() throws {
        try accepted(backend: "dnsmasq-proxy", file: "dploy.conf", extraDHCP: ", network: 198.18.0.0/24")
    }

    /// Plans and applies the lab with `backend`, whose real checker (no `check` in the
    /// config) must accept the file, then checks the file on disk again. The lab's web
    /// machines boot GRUB and its db machines pxelinux here, so every loader's rules are
    /// in the file the checker reads.
    func accepted(backend: String, file: String, extraDHCP: String = "") throws {
        // With dploy's TFTP server, which serves the loaders: DHCP hands each machine its own.
        let lab = try LabCopy(config: LabCopy.config(backend: backend, dhcpFile: file, check: nil, extraDHCP: extraDHCP,
                                                     extra: "tftp: {listen: \"127.0.0.1:0\"}"))
        for (profile, loader) in [("debian-12", "grub"), ("rocky-9", "pxelinux")] {
            let text = try lab.read("profiles/\(profile).yaml")
            try lab.write("profiles/\(profile).yaml", text.replacingOccurrences(of: "spec:\n", with: "spec:\n  loader: \(loader)\n")
                .replacingOccurrences(of: "  loader: ipxe\n", with: ""))
        }
        let reconciler = try lab.reconciler()
        let result = try reconciler.plan()
        #expect(result.plan.shared.contains { $0.kind == .writeDHCPConfig })
        let report = try reconciler.apply(result)
        #expect(report.written.contains(OutputPath(.dhcp, file)))
        let text = try lab.read("out/dhcp/\(backend == "dnsmasq" ? "dploy.hosts" : file)")
        #expect(text.contains("94:18:82:3a:5c:10,198.18.0.21") || text.contains("hardware ethernet 94:18:82:3a:5c:10")
                || text.contains("dhcp-mac=set:pxelinux,")
                || text.contains("\"hw-address\" : \"94:18:82:3a:5c:10\""), "web-01's reservation, or the proxy's loader tags")
        // dnsmasq's loader tags are in its config (dhcp-mac), never in the hosts file it rereads on SIGHUP.
        let config = try lab.read("out/dhcp/\(file)")
        #expect(config.contains("pxelinux") && config.contains("grub"), "both loaders' rules are checked")
        switch backend {
        case "dnsmasq":
            #expect(config.contains("dhcp-mac=set:grub,94:18:82:3a:5c:10\n"))
            #expect(!text.contains("set:"), "no tag in the hosts file: dnsmasq 2.90 crashes rereading one")
        case "dnsmasq-proxy":
            #expect(!config.contains("set:grub,94:18:82:3a:5c:10"), "GRUB fails behind a proxy on another host: web-01 gets iPXE")
            #expect(!FileManager.default.fileExists(atPath: lab.path("out/dhcp/dploy.hosts")), "the proxy has no hosts file")
            let note = try #require(result.plan.notes.first { $0.code == .loaderNotServed })
            #expect(note.message.contains("GRUB cannot boot behind a proxyDHCP") && note.message.contains("web-01 (grub)"))
        default:
            break
        }
        // And the file on disk, as the server would read it, passes the checker again.
        try DHCPCheck(backend: try #require(DHCPBackend(rawValue: backend)), command: nil)
            .run(candidate: lab.path("out/dhcp/\(file)"), shownAs: file)
    }

    @Test("a configuration the checker refuses leaves every old file in place",
          .requires(.dnsmasq, .keaDHCP4))
    func refused() throws {
        let lab = try LabCopy(config: LabCopy.config(check: nil))
        let reconciler = try lab.reconciler()
        _ = try reconciler.apply(try reconciler.plan())
        let before = try lab.outputStamps()
        let conf = try lab.read("out/dhcp/dploy.conf")

        // A new machine changes boot files and the DHCP config; the check is Kea's, which
        // refuses dnsmasq's syntax: a real checker saying no.
        try lab.write("machines/rack-r3.yaml", """
            apiVersion: dploy.org/v1
            kind: Machine
            metadata: {name: web-05, labels: {role: web, rack: r3}}
            spec: {mac: "94:18:82:3a:5f:01", ip: 198.18.0.25, bmc: {address: "https://198.18.0.125"}}
            """)
        try lab.write("dploy.yaml", LabCopy.config(check: "kea-dhcp4 -t {file}"))
        let strict = try lab.reconciler()
        let plan = try strict.plan()
        #expect(plan.plan.toAdd == 1)
        #expect(throws: ApplyError.self) { try strict.apply(plan) }
        do { _ = try strict.apply(plan) } catch let error as ApplyError {
            #expect(error.description.contains("failed its check (kea-dhcp4 -t"))
            #expect(error.description.contains("nothing was changed"))
        }
        #expect(try lab.outputStamps() == before, "no file was written, renamed or touched")
        #expect(try lab.read("out/dhcp/dploy.conf") == conf)
        #expect(!FileManager.default.fileExists(atPath: lab.path("out/http/ipxe/94-18-82-3a-5f-01.ipxe")))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: lab.path("out/dhcp")).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "staged files are cleaned up: \(leftovers)")
    }
}
