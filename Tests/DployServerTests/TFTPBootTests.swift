import DployController
import DployInventory
import DploySpec
import DployTFTP
import DployTestSupport
import Foundation
import Testing

/// pxelinux over TFTP, answered by the controller's boot decider as `dploy serve` wires it:
/// a config fetched over TFTP is a boot, counted like an iPXE one.
@Suite("TFTP boots through the controller")
struct TFTPBootTests {
    @Test("pxelinux.cfg/01-<mac> over TFTP starts install attempts; once they are used up it answers LOCALBOOT 0 and the generation fails",
          .requires(.atftp))
    func pxelinuxOverTFTPCountsAttempts() async throws {
        let lab = try BootServerTests.Lab(web01IP: "127.0.0.1")  // the client boots as web-01, from its reserved address
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let controller = try lab.controller(maxAttempts: 2, clock: clock.wallClock)
        let server = TFTPServer(configuration: .init(host: "127.0.0.1", port: 0), folder: lab.root.appendingPathComponent("out/tftp").path,
                                bootConfig: { loader, mac, address, recording in
                                    controller.bootAnswer(mac: mac, loader: loader, address: address, recording: recording)
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
        let first = try boot()
        #expect(first.contains("KERNEL ipxe.lkrn") && !first.contains("LOCALBOOT"), "\(first)")
        // Recorded once the client acknowledged (on the server's pool, right after the transfer).
        #expect(try await eventually { try lab.store().installAttempts(BootServerTests.web01).count == 1 })
        clock.advance(by: BootDecisions.attemptWindow + 1)
        #expect(try boot().contains("KERNEL ipxe.lkrn"))
        #expect(try await eventually { try lab.store().installAttempts(BootServerTests.web01).count == 2 })
        clock.advance(by: BootDecisions.attemptWindow + 1)
        let last = try boot()
        #expect(last.contains("LOCALBOOT 0"), "\(last)")
        #expect(try await eventually { try lab.store().machine(BootServerTests.web01)?.state == .failed })
        try await server.stop()
    }
}
