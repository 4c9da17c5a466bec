import Crypto
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

/// The imaging protocol over real HTTP: dploy's boot decision and callbacks on loopback, the
/// `imaging.sh` it serves run by /bin/sh as the imaging environment would run it, and a
/// small Python HTTP server as the image store (GET for restores, PUT for captures).
/// curl runs inside the imaging script; python3 is the image store.
@Suite("image capture and restore protocol", .ownThread, .requires(.curl, .python3))
struct ImagingTests {
    static let web01 = MACAddress("94:18:82:3a:5c:10")!
    static let imaging = BootDecisions.Discovery(kernel: "http://198.18.0.1:8080/files/imaging/vmlinuz",
                                                 initrd: "http://198.18.0.1:8080/files/imaging/initrd.img", args: "console=ttyS0")

    /// A lab copy, a store, and a server whose desired state has `task` beside the lab's.
    final class Setup: @unchecked Sendable {
        let lab: BootServerTests.Lab
        let store: any Store
        let live: LiveDesired
        let images: ImageServer

        init() throws {
            lab = try BootServerTests.Lab()
            store = try lab.store()
            live = LiveDesired(store: store, server: try lab.reconciler.settings.server, discovery: nil, imaging: ImagingTests.imaging)
            images = try ImageServer(folder: lab.root.appendingPathComponent("images"))
        }

        /// Puts `task` in force and records its run on web-01 as the runner does after the
        /// BMC's boot-once and power cycle; returns the run's key.
        func start(_ action: TaskAction, name: String = "image-web-01") throws -> TaskRunKey {
            var desired = try lab.reconciler.loadDesired()
            let here = SourceLocation(file: "tasks/\(name).yaml", line: 1, column: 1)
            let task = TaskDefinition(metadata: ObjectMeta(name: name, location: here),
                                      targets: TaskTargets(machines: [Located("web-01", at: here)]), action: action)
            desired.fleet.tasks.append(task)
            live.update(desired)
            let key = TaskRunKey(task: name, revision: TaskRevision.of(task), machine: "web-01")
            #expect(try store.startTaskRun(TaskRun(key: key, mac: ImagingTests.web01, action: action.kind, state: .running,
                                                   startedAt: Date(), deadline: Date().addingTimeInterval(600))))
            return key
        }

        func router() -> Router<DployRequestContext> {
            BootHTTPServer(controller: FleetController(live: live), auth: WebAuth(token: "t")).router()
        }
    }

    /// Runs the served imaging.sh as the imaging environment: `sh imaging.sh MAC TOKEN`.
    static func runImagingScript(_ client: some TestClientProtocol, _ setup: Setup, token: String) async throws -> (Int32, String) {
        try await BootServerTests.runServedScript(client, "/imaging.sh", savedIn: setup.lab.root, arguments: [web01.description, token],
                                                  environment: ["DPLOY_IMAGING_REBOOT": "0"])
    }

    /// The boot script web-01 gets now, and the token in it (nil when it is not imaging).
    static func boot(_ client: some TestClientProtocol) async throws -> (script: String, token: String?) {
        let script = try await client.execute(uri: "/boot.ipxe?mac=\(web01)", method: .get) { String(buffer: $0.body) }
        let token = script.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("dploy.token=") }
        return (script, token.map { String($0.dropFirst("dploy.token=".count)) })
    }

    static func sha256(_ bytes: [UInt8]) -> String { SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined() }

    /// 3 MiB and a bit of not-quite-random bytes: more than one dd block, not a multiple of one.
    static let image: [UInt8] = (0..<(3 * 1024 * 1024 + 1234)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }

    @Test("restore: the machine boots the imaging environment, the script writes the image to the disk, the run succeeds and the token stops working")
    func restore() async throws {
        let setup = try Setup()
        try Data(Self.image).write(to: setup.images.folder.appendingPathComponent("web.img"))
        let disk = setup.lab.root.appendingPathComponent("web-01.disk")
        try Data(repeating: 0, count: 4096).write(to: disk)
        let key = try setup.start(.imageRestore(url: "\(setup.images.url)/web.img", disk: disk.path, sha256: Self.sha256(Self.image)))
        let app = Application(router: setup.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let (script, token) = try await Self.boot(client)
            #expect(script.contains("kernel http://198.18.0.1:8080/files/imaging/vmlinuz initrd=initrd.img console=ttyS0"))
            #expect(script.contains("dploy.mac=\(Self.web01)"))
            let (status, output) = try await Self.runImagingScript(client, setup, token: try #require(token))
            #expect(status == 0, "\(output)")
            #expect(Array(try Data(contentsOf: disk)) == Self.image)

            let run = try #require(try setup.store.taskRuns(task: key.task).first)
            #expect(run.state == .succeeded)
            #expect(run.output == "restored \(Self.image.count) bytes from \(setup.images.url)/web.img to \(disk.path), sha256 \(Self.sha256(Self.image))")
            // Over: web-01 boots as git says again, and the run's token opens nothing.
            #expect(try await Self.boot(client).token == nil)
            let late = try await client.execute(uri: "/v1/imaging/\(Self.web01)/done?token=\(token!)", method: .post,
                                                body: ByteBuffer(string: "sha256=\(String(repeating: "0", count: 64))")) { $0.status }
            #expect(late == .notFound)
            #expect(try setup.store.taskRuns(task: key.task).first?.state == .succeeded)
        }
    }

    @Test("restore: an image whose sha256 differs from the task's fails the run, with both digests named")
    func restoreChecksum() async throws {
        let setup = try Setup()
        try Data(Self.image).write(to: setup.images.folder.appendingPathComponent("web.img"))
        let disk = setup.lab.root.appendingPathComponent("web-01.disk")
        try Data().write(to: disk)
        let wrong = String(repeating: "ab", count: 32)
        let key = try setup.start(.imageRestore(url: "\(setup.images.url)/web.img", disk: disk.path, sha256: wrong))
        let app = Application(router: setup.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let (status, output) = try await Self.runImagingScript(client, setup, token: try #require(try await Self.boot(client).token))
            #expect(status != 0)
            #expect(output.contains("expects \(wrong)"))
            let run = try #require(try setup.store.taskRuns(task: key.task).first)
            #expect(run.state == .failed)
            #expect(run.error == "the imaging environment reported: the image's sha256 is \(Self.sha256(Self.image)), the task expects \(wrong)")
        }
    }

    @Test("capture: the script streams the disk to the image URL with PUT; the run records its size and sha256")
    func capture() async throws {
        let setup = try Setup()
        let disk = setup.lab.root.appendingPathComponent("web-01.disk")
        try Data(Self.image).write(to: disk)
        let key = try setup.start(.imageCapture(url: "\(setup.images.url)/captured.img", disk: disk.path), name: "capture-web-01")
        let app = Application(router: setup.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let (status, output) = try await Self.runImagingScript(client, setup, token: try #require(try await Self.boot(client).token))
            #expect(status == 0, "\(output)")
        }
        #expect(Array(try Data(contentsOf: setup.images.folder.appendingPathComponent("captured.img"))) == Self.image)
        let run = try #require(try setup.store.taskRuns(task: key.task).first)
        #expect(run.state == .succeeded)
        #expect(run.output == "captured \(Self.image.count) bytes of \(disk.path) to \(setup.images.url)/captured.img, sha256 \(Self.sha256(Self.image))")
    }

    @Test("a wrong token is refused and changes nothing; a missing disk fails the run with its path")
    func refusals() async throws {
        let setup = try Setup()
        let key = try setup.start(.imageRestore(url: "\(setup.images.url)/none.img", disk: "/nonexistent/disk", sha256: nil))
        let app = Application(router: setup.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let forged = String(repeating: "1", count: 64)
            let status = try await client.execute(uri: "/v1/imaging/\(Self.web01)/done?token=\(forged)", method: .post,
                                                  body: ByteBuffer(string: "sha256=\(forged)")) { $0.status }
            #expect(status == .forbidden)
            #expect(try setup.store.taskRuns(task: key.task).first?.state == .running)

            let (exit, _) = try await Self.runImagingScript(client, setup, token: try #require(try await Self.boot(client).token))
            #expect(exit != 0)
            let run = try #require(try setup.store.taskRuns(task: key.task).first)
            #expect(run.state == .failed)
            #expect(run.error == "the imaging environment reported: the disk /nonexistent/disk does not exist")
        }
    }
}

/// A folder served over HTTP on loopback by Python's standard library: GET reads a file,
/// PUT (chunked or not) writes one. The image store of the imaging tests.
final class ImageServer: @unchecked Sendable {
    let folder: URL
    let process = Process()
    let port: Int
    var url: String { "http://127.0.0.1:\(port)" }

    static let program = #"""
        import http.server, os, sys
        folder = sys.argv[1]
        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **k): super().__init__(*a, directory=folder, **k)
            def log_message(self, *a): pass
            def do_PUT(self):
                path = os.path.join(folder, os.path.basename(self.path))
                with open(path, "wb") as out:
                    if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                        while True:
                            size = int(self.rfile.readline().split(b";")[0], 16)
                            if size == 0:
                                self.rfile.readline()
                                break
                            out.write(self.rfile.read(size))
                            self.rfile.readline()
                    else:
                        out.write(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """#

    init(folder: URL) throws {
        self.folder = folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        process.executableURL = URL(fileURLWithPath: Tool.python3.path)
        process.arguments = ["-c", Self.program, folder.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = Data()
        while let byte = try output.fileHandleForReading.read(upToCount: 1), !byte.isEmpty, byte != Data("\n".utf8) { line += byte }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw CocoaError(.fileReadUnknown) }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
