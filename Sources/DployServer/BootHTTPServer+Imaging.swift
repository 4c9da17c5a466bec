import DployInventory
import DploySpec
import Foundation
import Hummingbird

/// The imaging environment's side of an image-capture or image-restore run (docs/imaging.md):
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
    func addImagingRoutes(_ router: Router<BasicRequestContext>) {
        router.get("imaging.sh") { _, _ -> Response in
            Self.text(ImagingScript.text(server: server.url), contentType: "text/x-shellscript")
        }
        router.get("v1/imaging/:mac") { request, context -> Response in
            let (_, job) = try imagingRun(request, context)
            return Self.text(job.text)
        }
        router.post("v1/imaging/:mac/progress") { request, context -> Response in
            let (run, _) = try imagingRun(request, context)
            let body = try await request.body.collect(upTo: 4096)
            try store.updateTaskRunOutput(run.key, String(buffer: body))
            return Response(status: .noContent)
        }
        router.post("v1/imaging/:mac/done") { request, context -> Response in
            let (run, job) = try imagingRun(request, context)
            let body = try await request.body.collect(upTo: 4096)
            let outcome = job.outcome(reported: String(buffer: body))
            _ = try store.finishTaskRun(run.key, outcome, at: Date())
            guard outcome.state == .succeeded else { throw HTTPError(.conflict, message: outcome.error ?? "failed") }
            return Response(status: .noContent)
        }
        router.post("v1/imaging/:mac/failed") { request, context -> Response in
            let (run, _) = try imagingRun(request, context)
            let body = try await request.body.collect(upTo: 4096)
            let reason = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            _ = try store.finishTaskRun(run.key, .failed("the imaging environment reported: \(reason.isEmpty ? "no reason" : reason)"),
                                        at: Date())
            return Response(status: .noContent)
        }
    }

    /// The running imaging run the request's MAC and token speak for, and its job.
    private func imagingRun(_ request: Request, _ context: BasicRequestContext) throws -> (TaskRun, ImagingJob) {
        guard let mac = context.parameters.get("mac").flatMap(MACAddress.init),
              let token = request.uri.queryParameters["token"].map(String.init) else {
            throw HTTPError(.badRequest, message: "an imaging request needs /v1/imaging/MAC…?token=T")
        }
        guard let run = try store.runningTaskRun(mac: mac, actions: TaskAction.imagingKinds, at: Date()) else {
            throw HTTPError(.notFound, message: "no imaging run is going for \(mac) (none started, or it is over or past its deadline)")
        }
        guard let key = server.callbackKey, key.verify(token, imaging: ImagingJob.runName(run.key), mac: mac) else {
            throw HTTPError(.forbidden, message: "the token does not match this machine's imaging run")
        }
        // Right after a restart no desired state is loaded yet: that says nothing about the
        // task, so the environment is asked to try again rather than its run failed.
        guard let fleet = live.snapshot?.desired.fleet else {
            throw HTTPError(.serviceUnavailable, message: "dploy is starting and has no desired state loaded yet; try again")
        }
        guard let job = ImagingJob(run, fleet: fleet) else {
            _ = try store.finishTaskRun(run.key, .failed("the task was edited or removed from git while the run waited"), at: Date())
            throw HTTPError(.gone, message: "task '\(run.key.task)' changed in git since this run started; the run is failed")
        }
        return (run, job)
    }
}
