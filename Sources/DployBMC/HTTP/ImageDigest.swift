import CCurl
import DploySpec
import Foundation

/// Streams what a URL serves through SHA-256, never holding it: firmware images run to
/// hundreds of megabytes. Used before a firmware update, to check that the image URL serves
/// the bytes the baseline names (the BMC downloads the image itself, so this is the only
/// look dploy gets at them).
public enum ImageDigest {
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
        var bytes = 0
        init() {
            context = EVP_MD_CTX_new()
            EVP_DigestInit_ex(context, EVP_sha256(), nil)
        }
        deinit { EVP_MD_CTX_free(context) }
    }

    /// The SHA-256 of the body `url` serves (http or https; https checked against the system
    /// CAs), as 64 lower-case hex digits, and how many bytes it had.
    public static func sha256(of url: String, connectTimeout: Duration = .seconds(10),
                              timeout: Duration = .seconds(1800)) throws(Failure) -> (sha256: String, bytes: Int) {
        _ = CurlHandle.globalInit
        guard let handle = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        defer { curl_easy_cleanup(handle) }
        let hasher = Hasher()
        let retained = Unmanaged.passRetained(hasher)
        defer { retained.release() }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        dploy_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        dploy_curl_setopt_string(handle, CURLOPT_URL, url)
        dploy_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "https,http")
        dploy_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "https,http")
        dploy_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 1)
        dploy_curl_setopt_long(handle, CURLOPT_MAXREDIRS, 5)
        dploy_curl_setopt_long(handle, CURLOPT_FAILONERROR, 1)  // a 404 page is not the image
        dploy_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        dploy_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, CurlHandle.milliseconds(connectTimeout))
        dploy_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, CurlHandle.milliseconds(timeout))
        dploy_curl_setopt_string(handle, CURLOPT_USERAGENT, "dploy")
        dploy_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, userdata in
            let hasher = Unmanaged<Hasher>.fromOpaque(userdata!).takeUnretainedValue()
            let length = size * count
            if let data, length > 0 {
                guard EVP_DigestUpdate(hasher.context, data, length) == 1 else { return 0 }
                hasher.bytes += length
            }
            return length
        }
        dploy_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, retained.toOpaque())

        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            throw Failure(url: url, reason: detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)
        }
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(hasher.context, &digest, &length) == 1, length == 32 else {
            throw Failure(url: url, reason: "OpenSSL could not finish the SHA-256")
        }
        return (Hex.encode(digest), hasher.bytes)
    }
}
