import DployController
import DployInventory
import DployPlan
import DployRender
import DploySpec
import Foundation
import Hummingbird

/// The boot and inventory endpoints machines talk to (`dploy serve`).
///
/// - `GET /boot.ipxe?mac=…`: the boot decision (`BootDecisions`); without `mac`, the entry
///   script that chains back here with `${net0/mac}`.
/// - `GET /agent.sh`: the discovery agent.
/// - `POST /v1/inventory?mac=…`: an `lshw -json` report (application/json, at most 4 MiB).
/// - `POST /v1/machines/{mac}/installed?generation=N&token=T`: an installer calling back.
/// - `GET /v1/machines`, `GET /v1/machines/{name-or-mac}`: desired and observed, side by side.
public struct BootHTTPServer: Sendable {
    public let decisions: BootDecisions
    public let desired: DesiredState
    public let store: SQLiteStore
    public let server: BootServer

    public init(desired: DesiredState, store: SQLiteStore, server: BootServer,
                discovery: BootDecisions.Discovery?, maxAttempts: Int = 3) {
        self.desired = desired
        self.store = store
        self.server = server
        decisions = BootDecisions(desired: desired, store: store, server: server, discovery: discovery, maxAttempts: maxAttempts)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("boot.ipxe") { request, _ -> Response in
            guard let mac = request.uri.queryParameters["mac"].map(String.init) else {
                return Self.text("#!ipxe\nchain --autofree \(server.url)/boot.ipxe?mac=${net0/mac}\n")
            }
            do {
                return Self.text(try decisions.script(mac: mac, address: nil))
            } catch {
                // Still a valid script: the machine boots its disk and asks again next boot.
                return Self.text("#!ipxe\necho dploy: the store is busy or unavailable, booting the local disk\nexit\n")
            }
        }
        router.get("agent.sh") { _, _ -> Response in
            Self.text(AgentScript.text(server: server.url), contentType: "text/x-shellscript")
        }
        router.post("v1/inventory") { request, _ -> Response in
            guard let mac = request.uri.queryParameters["mac"].flatMap({ MACAddress(String($0)) }) else {
                throw HTTPError(.badRequest, message: "inventory needs ?mac= with the machine's MAC address")
            }
            guard request.headers[.contentType]?.hasPrefix("application/json") == true else {
                throw HTTPError(.unsupportedMediaType, message: "send the lshw -json report as application/json")
            }
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: LshwReport.maximumBytes)
            } catch {
                throw HTTPError(.contentTooLarge, message: "the report is larger than \(LshwReport.maximumBytes) bytes")
            }
            let hardware: Hardware
            do {
                hardware = try LshwReport.parse(Array(buffer: body))
            } catch {
                throw HTTPError(.badRequest, message: String(describing: error))
            }
            try store.recordHardware(mac, hardware, at: Date())
            return Response(status: .noContent)
        }
        router.post("v1/machines/:id/installed") { request, context -> Response in
            guard let mac = context.parameters.get("id").flatMap(MACAddress.init),
                  let generation = request.uri.queryParameters["generation"].flatMap({ Int(String($0)) }),
                  let token = request.uri.queryParameters["token"].map(String.init) else {
                throw HTTPError(.badRequest, message: "a callback needs /v1/machines/MAC/installed?generation=N&token=T")
            }
            guard let key = server.callbackKey, key.verify(token, mac: mac, generation: generation) else {
                throw HTTPError(.forbidden, message: "the token does not match this machine and generation")
            }
            // Only the generation git asks for now can be installed; an old installer that
            // calls back late does not mark a newer generation done.
            guard decisions.desiredGeneration(of: mac) == generation else {
                throw HTTPError(.conflict, message: "generation \(generation) is not the generation git asks for \(mac)")
            }
            let open = try store.installAttempts(mac).last { $0.generation == generation && $0.finishedAt == nil && $0.failedAt == nil }
            guard open != nil else {
                throw HTTPError(.conflict, message: "no install of generation \(generation) is running for \(mac)")
            }
            try store.installFinished(mac, generation: generation, at: Date())
            return Response(status: .noContent)
        }
        router.get("v1/machines") { _, _ -> Response in
            try Self.json(MachineOverview.rows(fleet: desired.fleet, observed: try store.machines()))
        }
        router.get("v1/machines/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let status = MachineOverview.rows(fleet: desired.fleet, observed: try store.machines())
                .first(where: { $0.name == id || $0.mac == MACAddress(id)?.description }) else {
                throw HTTPError(.notFound, message: "no machine named or with MAC '\(id)'")
            }
            return try Self.json(status)
        }
        return router
    }

    static func text(_ text: String, contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}

extension BootHTTPServer {
    /// Serves until SIGTERM or SIGINT (swift-service-lifecycle shuts it down gracefully).
    /// - Parameter listen: `HOST:PORT`, e.g. `127.0.0.1:8080` or `198.18.0.1:80`.
    public func run(listen: String) async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw HTTPError(.badRequest, message: "listen must be HOST:PORT, found '\(listen)'")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let app = Application(router: router(), configuration: .init(address: .hostname(host, port: port), serverName: "dploy"))
        try await app.runService()
    }
}
