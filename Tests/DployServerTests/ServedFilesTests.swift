import DployController
import DployServer
import DploySpec
import DployTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The files below `output.http`, served to the boot network without credentials: what
/// machines fetch (kernels by Range, HEAD, cached by ETag), and nothing else.
@Suite("files below output.http", .ownThread)
struct ServedFilesTests {
    static let secret = "dploy-secret-must-not-leak"

    /// `http` (what dploy.yaml names: a symlink to `real/out`, as an operator may make it), with a
    /// kernel, a link inside that stays inside, links that lead out to `state/` (the
    /// controller's) and to /etc/passwd, and a link to a hidden staged file.
    final class Folder: @unchecked Sendable {
        let root: URL
        let kernel: [UInt8] = (0..<4096).map { UInt8($0 % 251) }
        var http: String { root.appendingPathComponent("http").path }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-files-\(UUID().uuidString)")
            let files = FileManager.default
            let out = root.appendingPathComponent("real/out")
            try files.createDirectory(at: out.appendingPathComponent("boot"), withIntermediateDirectories: true)
            try files.createDirectory(at: root.appendingPathComponent("state"), withIntermediateDirectories: true)
            try Data(kernel).write(to: out.appendingPathComponent("boot/vmlinuz"))
            try Data(ServedFilesTests.secret.utf8).write(to: root.appendingPathComponent("state/secret.txt"))
            try Data("staged".utf8).write(to: out.appendingPathComponent("boot/.tmp-staged"))
            try files.createSymbolicLink(atPath: root.appendingPathComponent("http").path, withDestinationPath: "real/out")
            for (link, target) in [("vmlinuz-current", "boot/vmlinuz"), ("leak.txt", "../../state/secret.txt"),
                                   ("state", "../../state"), ("passwd", "/etc/passwd"), ("staged", "boot/.tmp-staged"),
                                   ("whole", "../..")] {
                try files.createSymbolicLink(atPath: out.appendingPathComponent(link).path, withDestinationPath: target)
            }
        }

        deinit { try? FileManager.default.removeItem(at: root) }
    }

    func get(_ client: some TestClientProtocol, _ uri: String, method: HTTPRequest.Method = .get,
             headers: HTTPFields = [:]) async throws -> (HTTPResponse.Status, HTTPFields, [UInt8]) {
        try await client.execute(uri: uri, method: method, headers: headers) { ($0.status, $0.headers, Array(buffer: $0.body)) }
    }

    func application(_ folder: Folder) throws -> some ApplicationProtocol {
        let lab = try BootServerTests.Lab()
        let live = LiveDesired(store: try lab.store(), server: try lab.reconciler.settings.server, discovery: nil)
        return Application(router: BootHTTPServer(controller: FleetController(live: live), auth: WebAuth(token: BootServerTests.token),
                                                  httpFolder: folder.http).router())
    }

    @Test("kernels are served whole, by Range, by HEAD and by ETag, also through links that resolve inside")
    func served() async throws {
        let folder = try Folder()
        try await application(folder).test(.live) { client in
            // What counts is where a path resolves: out through `whole -> ../..` and back in is inside.
            for path in ["/boot/vmlinuz", "/vmlinuz-current", "/whole/real/out/boot/vmlinuz"] {
                let (status, headers, body) = try await get(client, path)
                #expect(status == .ok && body == folder.kernel, "\(path)")
                let (partial, partialHeaders, slice) = try await get(client, path, headers: [.range: "bytes=100-199"])
                #expect(partial == .partialContent && partialHeaders[.contentRange] == "bytes 100-199/4096")
                #expect(slice == Array(folder.kernel[100...199]))
                let (head, headHeaders, empty) = try await get(client, path, method: .head)
                #expect(head == .ok && headHeaders[.contentLength] == "4096" && empty.isEmpty)
                let eTag = try #require(headers[.eTag])
                #expect(try await get(client, path, headers: [.ifNoneMatch: eTag]).0 == .notModified)
            }
        }
    }

    /// Issue 19: FileMiddleware followed a symlink placed in output.http wherever it led.
    @Test("a link that leads out of output.http, or to a hidden file, is answered 404 and discloses nothing")
    func linksOut() async throws {
        let folder = try Folder()
        try await application(folder).test(.live) { client in
            for path in ["/leak.txt", "/state/secret.txt", "/passwd", "/staged", "/whole/state/secret.txt"] {
                let (status, _, body) = try await get(client, path)
                #expect(status == .notFound, "\(path)")
                #expect(!String(decoding: body, as: UTF8.self).contains(Self.secret) && !String(decoding: body, as: UTF8.self).contains("root:"),
                        "\(path)")
            }
        }
    }

    @Test("'..', percent-encoded or not, never leaves output.http")
    func traversal() async throws {
        let folder = try Folder()
        try await application(folder).test(.live) { client in
            for path in ["/../state/secret.txt", "/boot/../../../state/secret.txt", "/%2e%2e/%2e%2e/state/secret.txt",
                         "/boot/%2e%2e%2f%2e%2e%2f%2e%2e%2fstate%2fsecret.txt", "/..%2f..%2fstate/secret.txt",
                         "/%252e%252e/%252e%252e/state/secret.txt", "/.%2e/.%2e/state/secret.txt", "//etc/passwd"] {
                let (status, _, body) = try await get(client, path)
                #expect(status == .notFound || status == .badRequest, "\(path): \(status)")
                #expect(!String(decoding: body, as: UTF8.self).contains(Self.secret), "\(path)")
            }
        }
    }
}
