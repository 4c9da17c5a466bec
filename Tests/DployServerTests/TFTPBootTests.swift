import DployController
import DployInventory
import DploySpec
import DployTFTP
import DployTestSupport
import Foundation
import Testing

/// pxelinux over TFTP, answered by the controller's boot decider as `dploy serve` wires it.
/// A UDP source address is forged at will (and a reply port found by spraying ACKs at every
/// ephemeral port), so a config fetched over TFTP is decided but counts nothing; boots over
/// HTTP (TCP), which dploy's own DHCP config makes lpxelinux and GRUB use, do.
@Suite("TFTP boots through the controller", .ownThread)
struct TFTPBootTests {
    @Test("pxelinux.cfg/01-<mac> over TFTP follows the boot decider but uses up no attempt; boots over HTTP do, and TFTP then answers LOCALBOOT 0",
          .requires(.atftp))
    func pxelinuxOverTFTP() async throws {
        let lab = try BootServerTests.Lab(web01IP: "127.0.0.1")  // the client boots as web-01, from its reserved address
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let controller = try lab.controller(maxAttempts: 2, clock: clock.wallClock)
        let server = TFTPServer(configuration: .init(host: "127.0.0.1", port: 0), folder: lab.root.appendingPathComponent("out/tftp").path,
                                bootConfig: { loader, mac, address in
                                    controller.bootAnswer(mac: mac, loader: loader, address: address, recording: false)
                                })
        let port = try #require(try await server.start().port)
        let folder = try TemporaryFolder(prefix: "dploy-tftp-boot")
        func boot() throws -> String {
            let local = folder.file("config-\(UUID().uuidString)")
            try run(try Tool.atftp.require(), ["--get", "-r", "pxelinux.cfg/01-94-18-82-3a-5c-10", "-l", local,
                                               "--option", "blksize 1468", "--option", "tsize enable", "127.0.0.1", String(port)])
            return try String(contentsOfFile: local, encoding: .utf8)
        }

        // web-01's profile boots iPXE: pxelinux chains to it, and that is the install.
        for _ in 0..<3 {
            #expect(try boot().contains("KERNEL ipxe.lkrn"))
            clock.advance(by: BootDecisions.attemptWindow + 1)
        }
        #expect(try lab.store().installAttempts(BootServerTests.web01).isEmpty, "three TFTP boots, no attempt counted")
        // Two boots over HTTP from the reserved address use up the attempts; the third fails the generation.
        for _ in 0..<3 {
            _ = controller.bootAnswer(mac: "94:18:82:3a:5c:10", loader: .pxelinux, address: "127.0.0.1", recording: true)
            clock.advance(by: BootDecisions.attemptWindow + 1)
        }
        #expect(try lab.store().machine(BootServerTests.web01)?.state == .failed)
        let last = try boot()
        #expect(last.contains("LOCALBOOT 0") && !last.contains("KERNEL"), "\(last)")
        try await server.stop()
    }
}
