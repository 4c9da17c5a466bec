import CCurl
import DploySpec
import Foundation

/// Streams what a URL serves through SHA-256, never holding it: firmware images run to
/// hundreds of megabytes. Used before a firmware update, to check that the image URL serves
/// the bytes the baseline names (the BMC downloads the image itself, so this is the only
/// look dploy gets at them).
///
/// The URL comes from a spec, and spec authors are less trusted than the operator, so the
/// fetch is bounded: no redirects (the BMC is handed the same URL, and a redirect could show
/// dploy other bytes than the BMC, or move an https image to plain http), at most
/// `maximumBytes`, and a transfer that stalls below 1 KiB/s for a minute is given up.
public enum ImageDigest {
    /// Larger than any firmware package HPE ships (a full SPP component is a few hundred MiB),
    /// small enough that a URL streaming without end stops long before the disk or the timeout.
    public static let defaultMaximumBytes = 4 << 30

    /// Why an image could not be checked: the download failed or answered an error status.
    public struct Failure: Error, CustomStringConvertible {
        public let url: String
        public let reason: String
        public var description: String { "cannot read the firmware image \(url) to check its sha256: \(reason)" }
    }

    /// Hashes the body as curl hands it over. A class so the C callback reaches it through
    /// the userdata pointer.
    private final class Hasher {
        let context: OpaquePointer
        let maximumBytes: Int
        var bytes = 0
        var tooLarge = false
        init(maximumBytes: Int) {
            self.maximumBytes = maximumBytes
            context = EVP_MD_CTX_new()
            EVP_DigestInit_ex(context, EVP_sha256(), nil)
        }
        deinit { EVP_MD_CTX_free(context) }
    }

    /// The SHA-256 of the body `url` serves (http or https; https checked against the system
    /// CAs), as 64 lower-case hex digits, and how many bytes it had. A redirect, a body over
    /// `maximumBytes` or an error status is a `Failure`.
    public static func sha256(of url: String, connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(1800),
                              maximumBytes: Int = defaultMaximumBytes) throws(Failure) -> (sha256: String, bytes: Int) {
        _ = CurlHandle.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        defer { curl_easy_cleanup(handle) }
        let hasher = Hasher(maximumBytes: maximumBytes)
        let retained = Unmanaged.passRetained(hasher)
        defer { retained.release() }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        dploy_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        dploy_curl_setopt_string(handle, CURLOPT_URL, url)
        dploy_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "https,http")
        dploy_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        dploy_curl_setopt_long(handle, CURLOPT_FAILONERROR, 1)  // a 404 page is not the image
        // Refused before the body when the server announces its length; counted below otherwise.
        dploy_curl_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(maximumBytes))
        dploy_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
        dploy_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, 60)
        dploy_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        dploy_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, CurlHandle.milliseconds(connectTimeout))
        dploy_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, CurlHandle.milliseconds(timeout))
        dploy_curl_setopt_string(handle, CURLOPT_USERAGENT, "dploy")
        dploy_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let hasher = Unmanaged<Hasher>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                guard hasher.bytes + length <= hasher.maximumBytes else {
                    hasher.tooLarge = true
                    return 0  // curl stops with CURLE_WRITE_ERROR
                }
                guard EVP_DigestUpdate(hasher.context, data, length) == 1 else { return 0 }
                hasher.bytes += length
            }
            return length
        }
        dploy_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, retained.toOpaque())

        let code = curl_easy_perform(handle)
        if hasher.tooLarge || code == CURLE_FILESIZE_EXCEEDED {
            throw Failure(url: url, reason: "it serves more than \(maximumBytes) bytes")
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            throw Failure(url: url, reason: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var status = 0
        dploy_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        guard !(300..<400).contains(status) else {
            var location: UnsafeMutablePointer<CChar>?
            dploy_curl_getinfo_string(handle, CURLINFO_REDIRECT_URL, &location)
            throw Failure(url: url, reason: "it answers \(status), a redirect to \(location.map { String(cString: $0) } ?? "elsewhere"); "
                + "name the final URL in the baseline (the BMC is given this URL too, and dploy follows no redirect)")
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(hasher.context, &digest, &length) == 1, length == 32 else {
            throw Failure(url: url, reason: "OpenSSL could not finish the SHA-256")
        }
        return (Hex.encode(digest), hasher.bytes)
    }
}
