@testable import DployBMC
import DployTestSupport
import Foundation
import Testing

/// The firmware image check fetches a URL a spec names, so it must not be steerable: a
/// redirect is refused (the BMC is handed the same URL), and the body is capped.
@Suite("Firmware image digest", .ownThread, .requires(.python3))
struct ImageDigestTests {
    /// /image serves 5,000 bytes with a length, /redirect answers 302 to /image, /endless
    /// streams without a length until the client leaves, /huge announces 10 GB.
    static let program = #"""
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *a): pass
            def do_GET(self):
                if self.path == "/image":
                    body = b"x" * 5000
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    self.wfile.write(body)
                elif self.path == "/redirect":
                    self.send_response(302); self.send_header("Location", "http://127.0.0.1:%d/image" % self.server.server_address[1])
                    self.send_header("Content-Length", "0"); self.end_headers()
                elif self.path == "/endless":
                    self.send_response(200); self.send_header("Connection", "close"); self.end_headers()
                    try:
                        while True: self.wfile.write(b"y" * 65536)
                    except OSError: pass
                elif self.path == "/huge":
                    self.send_response(200); self.send_header("Content-Length", "10000000000"); self.end_headers()
                    try:
                        while True: self.wfile.write(b"z" * 65536)
                    except OSError: pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        print("PORT %d" % server.server_address[1], flush=True)
        server.serve_forever()
        """#

    let server: ChildProcess
    let base: String

    init() throws {
        server = try ChildProcess(try Tool.python3.require(), ["-u", "-c", Self.program])
        let line = server.firstLine()
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else { throw ToolFailure(message: "no port: \(line)") }
        base = "http://127.0.0.1:\(port)"
    }

    @Test("an image is hashed whole")
    func hashesTheImage() throws {
        let result = try ImageDigest.sha256(of: "\(base)/image")
        #expect(result.bytes == 5000)
        #expect(result.sha256 == "c59d3c0480cc2d71d8f646e735e92da65450311eec46e81a5db8c7e6e8a92054")
    }

    @Test("a redirect is refused and names where it pointed")
    func refusesRedirects() throws {
        let failure = #expect(throws: ImageDigest.Failure.self) { try ImageDigest.sha256(of: "\(base)/redirect") }
        #expect(failure?.reason.contains("302, a redirect to \(base)/image") == true, "\(String(describing: failure))")
    }

    @Test("a body without end stops at the cap")
    func capsAnEndlessBody() throws {
        let failure = #expect(throws: ImageDigest.Failure.self) {
            try ImageDigest.sha256(of: "\(base)/endless", timeout: .seconds(30), maximumBytes: 1 << 20)
        }
        #expect(failure?.reason == "it serves more than 1048576 bytes", "\(String(describing: failure))")
    }

    @Test("an announced length over the cap is refused before the body")
    func capsAnAnnouncedLength() throws {
        let failure = #expect(throws: ImageDigest.Failure.self) {
            try ImageDigest.sha256(of: "\(base)/huge", timeout: .seconds(30), maximumBytes: 1 << 20)
        }
        #expect(failure?.reason == "it serves more than 1048576 bytes", "\(String(describing: failure))")
    }
}
