import DployServer
import DployTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// The access log `dploy serve --log-level debug` writes: what the e2e test and an operator
/// read to see which machine fetched what.
@Suite("dploy serve access log", .ownThread)
struct AccessLogTests {
    /// Keeps every line logged through it, with its metadata.
    struct Capture: LogHandler {
        final class Lines: Sendable {
            let lines = Mutex<[(message: String, metadata: [String: String])]>([])
        }

        let store: Lines
        var logLevel: Logger.Level = .debug
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues { "\($0)" }
            store.lines.withLock { $0.append((event.message.description, all)) }
        }
    }

    @Test("one debug line per request: method, path, status, client address, the boot request's MAC; never a callback's token")
    func accessLog() async throws {
        let lab = try BootServerTests.Lab()
        let lines = Capture.Lines()
        let logger = Logger(label: "test") { _ in Capture(store: lines) }
        let app = Application(router: try lab.server().router(), logger: logger)
        try await app.test(.live) { client in
            _ = try await client.execute(uri: "/boot.ipxe?mac=\(BootServerTests.stranger)", method: .get) { $0.status }
            _ = try await client.execute(uri: "/v1/machines/\(BootServerTests.stranger)/installed?generation=0&token=secret-token-value",
                                         method: .post) { $0.status }
            _ = try await client.execute(uri: "/no/such/file", method: .get) { $0.status }
            _ = try await client.execute(uri: "/boot.ipxe?mac=x%0Aforged%20line", method: .get) { $0.status }
        }
        let http = lines.lines.withLock { $0 }.filter { $0.message == "http" }.map(\.metadata)
        #expect(http.count == 4)
        #expect(http.last?["mac"] == "(not a MAC)", "a client's text never reaches the log as it was sent")
        let boot = http.first { $0["path"] == "/boot.ipxe" }?.filter { $0.key != "hb.request.id" }
        #expect(boot == ["method": "GET", "path": "/boot.ipxe", "status": "200", "client": "127.0.0.1", "mac": BootServerTests.stranger])
        let callback = try #require(http.first { $0["method"] == "POST" })
        #expect(callback["status"] == "403")
        #expect(!callback.values.contains { $0.contains("secret-token-value") }, "the token never reaches the log")
        #expect(http.first { $0["path"] == "/no/such/file" }?["status"] == "404")
    }
}
