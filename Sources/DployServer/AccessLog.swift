import DploySpec
import Hummingbird
import Logging

/// One line per request at debug level (`dploy serve --log-level debug`), after the answer:
/// method, path, status, the `client` address it came from and the `mac` a boot request
/// names. Boot traffic is what an operator reads it for: which machine fetched which
/// script, kernel or initrd (a kernel request names no MAC: its address tells whose it was).
///
/// The rest of the query is left out: an install callback carries its token there.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = DployRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let status: Int
        do {
            let response = try await next(request, context)
            status = response.status.code
            log(request, context, status: status)
            return response
        } catch let error as any HTTPResponseError {
            log(request, context, status: error.status.code)
            throw error
        } catch {
            log(request, context, status: 500)
            throw error
        }
    }

    func log(_ request: Request, _ context: Context, status: Int) {
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "path": .string(request.uri.path),
            "status": .stringConvertible(status),
        ]
        if let client = context.clientAddress { metadata["client"] = .string(client) }
        // Only a well-formed MAC: the parameter is the client's text, and a newline in it
        // would forge log lines.
        if let mac = request.uri.queryParameters["mac"] {
            metadata["mac"] = .string(MACAddress(String(mac))?.description ?? "(not a MAC)")
        }
        context.logger.debug("http", metadata: metadata)
    }
}
