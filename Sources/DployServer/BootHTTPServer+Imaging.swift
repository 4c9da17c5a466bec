import DployController
import DployInventory
import DploySpec
import Hummingbird

/// The imaging environment's side of an image-capture or image-restore run (docs/tasks.md, "Imaging"):
///
/// - `GET /imaging.sh`: the script that does the job;
/// - `GET /v1/imaging/{mac}?token=T`: the job, `key=value` lines;
/// - `POST /v1/imaging/{mac}/progress?token=T`: a line of progress (at most 4 KiB), kept as the run's output;
/// - `POST /v1/imaging/{mac}/done?token=T`: `sha256=…` and `bytes=…`; the run succeeds (a
///   restore whose digest differs from the task's `sha256` fails);
/// - `POST /v1/imaging/{mac}/failed?token=T`: the reason; the run fails.
///
/// The token comes from the machine's boot script and speaks for one run: once the run is
/// over, its token opens nothing.
extension BootHTTPServer {
    func addImagingRoutes(_ router: Router<DployRequestContext>) {
        router.get("imaging.sh") { _, _ -> Response in
            Self.text(ImagingScript.text(server: controller.serverURL), contentType: "text/x-shellscript")
        }
        router.get("v1/imaging/:mac") { request, context -> Response in
            let (mac, token) = try Self.imagingRequest(request, context)
            return Self.text(try Self.answering { try controller.imagingJob(mac: mac, token: token) }.text)
        }
        router.post("v1/imaging/:mac/progress") { request, context -> Response in
            let (mac, token) = try Self.imagingRequest(request, context)
            let body = try await self.body(of: request, upTo: 4096)
            try Self.answering { try controller.recordImagingProgress(mac: mac, token: token, text: String(buffer: body)) }
            return Response(status: .noContent)
        }
        router.post("v1/imaging/:mac/done") { request, context -> Response in
            let (mac, token) = try Self.imagingRequest(request, context)
            let body = try await self.body(of: request, upTo: 4096)
            let outcome = try Self.answering { try controller.finishImaging(mac: mac, token: token, report: .done(String(buffer: body))) }
            guard outcome.state == .succeeded else { throw HTTPError(.conflict, message: outcome.error ?? "failed") }
            return Response(status: .noContent)
        }
        router.post("v1/imaging/:mac/failed") { request, context -> Response in
            let (mac, token) = try Self.imagingRequest(request, context)
            let body = try await self.body(of: request, upTo: 4096)
            try Self.answering { try controller.finishImaging(mac: mac, token: token, report: .failed(String(buffer: body))) }
            return Response(status: .noContent)
        }
    }

    /// The MAC and token of an imaging request; which run they speak for is the controller's to say.
    private static func imagingRequest(_ request: Request, _ context: DployRequestContext) throws -> (MACAddress, String) {
        guard let mac = context.parameters.get("mac").flatMap(MACAddress.init),
              let token = request.uri.queryParameters["token"].map(String.init) else {
            throw HTTPError(.badRequest, message: "an imaging request needs /v1/imaging/MAC…?token=T")
        }
        return (mac, token)
    }
}
