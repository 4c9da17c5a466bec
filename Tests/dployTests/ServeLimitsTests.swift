import DployTestSupport
import Foundation
import Testing

/// What a client on the boot network can hold of `dploy serve`: connections it opens and
/// never finishes are closed after `server.idleTimeout`, and others are answered meanwhile.
@Suite("dploy serve, connection limits", .ownThread, .serialized, .requires(.git, .curl))
struct ServeLimitsTests {
    let serve = ServeCommandTests()

    /// A TCP connection to loopback that the test opens and then leaves alone.
    final class RawConnection {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard fd >= 0, connected == 0 else { throw ToolFailure(message: "connect to 127.0.0.1:\(port): errno \(errno)") }
        }

        deinit { close(fd) }

        func send(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }

        /// What the server has sent so far, without waiting.
        func received() -> String {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let read = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            return read > 0 ? String(decoding: buffer.prefix(read), as: UTF8.self) : ""
        }

        /// Whether the server has closed its end: a read that does not wait sees end of file
        /// (or a reset), not "nothing yet".
        var closedByServer: Bool {
            var byte: UInt8 = 0
            let read = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
            return read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    @Test("half-open connections and unfinished request heads are closed after the idle timeout; others are answered")
    func idleConnectionsClosed() async throws {
        let site = try serve.makeSite()
        let config = try String(contentsOfFile: site.config, encoding: .utf8)
            .replacingOccurrences(of: #"server: {url: "http://127.0.0.1:8080"}"#,
                                  with: #"server: {url: "http://127.0.0.1:8080", idleTimeout: 1s}"#)
        try Data(config.utf8).write(to: URL(fileURLWithPath: site.config))
        let daemon = try await ServeCommandTests.Daemon(site: site)
        #expect(try await serve.started(daemon), "\(daemon.log)")

        // 20 that send nothing, 20 that stop in the middle of a request head (slowloris).
        var held: [RawConnection] = []
        for index in 0..<40 {
            let connection = try RawConnection(port: daemon.port)
            if index % 2 == 1 { connection.send("GET /boot.ipxe?mac=52:54:00:00:00:01 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ") }
            held.append(connection)
        }
        let answer = try serve.curl(["http://127.0.0.1:\(daemon.port)/boot.ipxe"])
        #expect(answer.status == 200 && answer.body.hasPrefix("#!ipxe"), "answered while 40 connections are held: \(answer)")

        let allClosed = try await eventually(30) { held.allSatisfy(\.closedByServer) }
        #expect(allClosed, "still open: \(held.filter { !$0.closedByServer }.count) of 40")
        #expect(try serve.curl(["http://127.0.0.1:\(daemon.port)/boot.ipxe"]).status == 200)
        #expect(try await daemon.terminate() == 0, "\(daemon.log)")
    }

    @Test("a request body that does not arrive within server.bodyTimeout is answered 408")
    func slowBodyAnswered408() async throws {
        let site = try serve.makeSite()
        let config = try String(contentsOfFile: site.config, encoding: .utf8)
            .replacingOccurrences(of: #"server: {url: "http://127.0.0.1:8080"}"#,
                                  with: #"server: {url: "http://127.0.0.1:8080", idleTimeout: 1h, bodyTimeout: 1s}"#)
        try Data(config.utf8).write(to: URL(fileURLWithPath: site.config))
        let daemon = try await ServeCommandTests.Daemon(site: site)
        #expect(try await serve.started(daemon), "\(daemon.log)")
        let trickle = try RawConnection(port: daemon.port)
        trickle.send("POST /v1/inventory?mac=94:18:82:99:00:01 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     + "Content-Length: 100000\r\n\r\n{\"id\": ")
        var answer = ""
        let answered = try await eventually(30) {
            answer += trickle.received()
            return answer.hasPrefix("HTTP/1.1 408")
        }
        #expect(answered, "answer: '\(answer)', closed: \(trickle.closedByServer)")
        #expect(try await daemon.terminate() == 0, "\(daemon.log)")
    }
}
