/// One HTTP request as the Redfish layer asks for it; the curl layer knows nothing of Redfish.
struct HTTPRequest {
    enum Method: String {
        case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"

        /// A request that changes nothing may be sent again after any failure; others only
        /// when the BMC cannot have seen them.
        var isIdempotent: Bool { self == .get }
    }

    var method: Method
    var url: String
    var headers: [String] = []
    var body: [UInt8]?
    var basicAuth: (username: String, password: String)?
}

/// What came back: the status, the headers (names lower-cased, last value wins) and the body.
struct HTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers[name.lowercased()] }
}
