import CCurl
import DploySpec
import Foundation

/// curl_global_init is not thread-safe; a global `let` runs it exactly once, before the first
/// handle is made (Swift initialises globals lazily and atomically).
private let curlGlobalInit: CURLcode = curl_global_init(3)  // CURL_GLOBAL_DEFAULT (SSL | WIN32)

/// A failed transfer: curl's code and its own explanation of what went wrong.
struct CurlFailure: Error {
    let code: UInt32
    let message: String

    /// Nothing reached the BMC: safe to send again, whatever the method.
    var nothingSent: Bool { code == 6 || code == 7 }  // couldn't resolve / couldn't connect
    /// The connection broke or timed out: the BMC may or may not have acted.
    var transient: Bool { [7, 28, 52, 55, 56].contains(code) }
    /// The certificate or pinned key did not check out; retrying would not help.
    var isTLS: Bool { [35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91].contains(code) }
}

/// Collects what curl hands the callbacks. A class so the C callbacks can reach it through
/// the userdata pointer.
private final class ResponseSink {
    static let maxBody = 32 << 20
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var tooLarge = false
}

/// One owning wrapper over a `CURL*` easy handle. Reusing the handle keeps its connection
/// (and TLS session) alive between requests to the same BMC. Not Sendable: one
/// `RedfishConnection` owns it and uses it from one thread at a time.
final class CurlHandle {
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// What OpenSSL's verify callback reads (the pin) and writes (the fingerprint it saw). It
    /// lives as long as the handle, because the handle's cached connections keep pointing at it.
    private let certificatePin: UnsafeMutablePointer<dploy_certificate_pin>

    /// Touch before making any curl handle (ImageDigest makes its own).
    static var globalInit: CURLcode { curlGlobalInit }

    init() {
        _ = curlGlobalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        certificatePin = .allocate(capacity: 1)
        certificatePin.initialize(to: dploy_certificate_pin())
    }

    deinit {
        curl_easy_cleanup(handle)  // first: its connections hold the pin pointer
        errorBuffer.deallocate()
        certificatePin.deallocate()
    }

    /// Sends one request and waits for the whole answer (this thread blocks; callers run it
    /// on a thread of their own, never on Swift's cooperative pool).
    func perform(_ request: HTTPRequest, tls: TLSPolicy, connectTimeout: Duration, timeout: Duration) throws(CurlFailure) -> HTTPResponse {
        // Reset keeps the connection cache, so the next request reuses the connection.
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = ResponseSink()
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }

        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers + ["Accept: application/json", "OData-Version: 4.0"] {
            list = curl_slist_append(list, header)
        }
        if request.body != nil { list = curl_slist_append(list, "Content-Type: application/json") }
        // curl adds "Expect: 100-continue" to larger bodies; BMCs answer it badly.
        list = curl_slist_append(list, "Expect:")
        defer { curl_slist_free_all(list) }

        dploy_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        dploy_curl_setopt_string(handle, CURLOPT_URL, request.url)
        dploy_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "https,http")
        dploy_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)  // many threads: no SIGALRM for timeouts
        dploy_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeout))
        dploy_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout))
        dploy_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
        dploy_curl_setopt_string(handle, CURLOPT_USERAGENT, "dploy")

        if tls.insecure {
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
        } else if tls.pinnedPublicKey != nil || tls.certificateFingerprint != nil {
            // A pin replaces the CA and host name checks: BMC certificates are self-signed and
            // name whatever the factory chose. Both pins are checked on every new connection.
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0)
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0)
            if let pin = tls.pinnedPublicKey { dploy_curl_setopt_string(handle, CURLOPT_PINNEDPUBLICKEY, pin) }
            if let fingerprint = tls.certificateFingerprint {
                setExpected(fingerprint)
                let code = dploy_curl_pin_certificate(handle, certificatePin)
                // Not OpenSSL underneath: refuse rather than send a password unchecked.
                guard code == CURLE_OK else {
                    throw CurlFailure(code: CURLE_SSL_ENGINE_INITFAILED.rawValue,
                                      message: "this libcurl cannot check a certificate fingerprint (\(String(cString: curl_easy_strerror(code))))")
                }
            }
        } else {
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
            dploy_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
            if let caFile = tls.caFile { dploy_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        }

        if let auth = request.basicAuth {
            dploy_curl_setopt_long(handle, CURLOPT_HTTPAUTH, 1)  // CURLAUTH_BASIC
            dploy_curl_setopt_string(handle, CURLOPT_USERNAME, auth.username)
            dploy_curl_setopt_string(handle, CURLOPT_PASSWORD, auth.password)
        }

        switch request.method {
        case .get:
            dploy_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        case .post, .put, .patch, .delete:
            dploy_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method.rawValue)
        }
        if let body = request.body {
            dploy_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            // COPYPOSTFIELDS copies the bytes, so the buffer need not outlive this call.
            body.withUnsafeBytes { bytes in
                _ = dploy_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
            }
        } else if request.method == .post {
            dploy_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0)
            dploy_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, "")
        }

        let userdata = sinkPointer.toOpaque()
        dploy_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let sink = Unmanaged<ResponseSink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard sink.body.count + length <= ResponseSink.maxBody else {
                sink.tooLarge = true
                return 0  // curl aborts the transfer with CURLE_WRITE_ERROR
            }
            if let data, length > 0 {
                data.withMemoryRebound(to: UInt8.self, capacity: length) {
                    sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: length))
                }
            }
            return length
        }
        dploy_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, userdata)
        dploy_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, userdata in
            let sink = Unmanaged<ResponseSink>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            guard let data, length > 0 else { return length }
            let line = data.withMemoryRebound(to: UInt8.self, capacity: length) {
                String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
            }
            if line.hasPrefix("HTTP/") {
                sink.headers = [:]  // a new response (after a 100 Continue): start over
            } else if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                sink.headers[name] = value
            }
            return length
        }
        dploy_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, userdata)

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            if let expected = tls.certificateFingerprint, certificatePin.pointee.checked == 1, certificatePin.pointee.matched == 0 {
                let seen = withUnsafeBytes(of: certificatePin.pointee.seen) { CertificateFingerprint(bytes: Array($0)) }
                throw CurlFailure(code: CURLE_PEER_FAILED_VERIFICATION.rawValue,
                                  message: "the certificate's SHA-256 fingerprint is \(seen.map(String.init(describing:)) ?? "unreadable"), not the pinned \(expected) ('bmc.fingerprint'); nothing was sent")
            }
            if sink.tooLarge { throw CurlFailure(code: code.rawValue, message: "the answer is larger than \(ResponseSink.maxBody >> 20) MiB") }
            let detail = String(cString: errorBuffer)
            throw CurlFailure(code: code.rawValue, message: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        dploy_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    /// Arms the verify callback for this transfer with `fingerprint`, forgetting the last result.
    private func setExpected(_ fingerprint: CertificateFingerprint) {
        withUnsafeMutableBytes(of: &certificatePin.pointee.expected) { $0.copyBytes(from: fingerprint.bytes) }
        certificatePin.pointee.checked = 0
        certificatePin.pointee.matched = 0
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }
}
