import DploySpec
import Foundation

/// Everything needed to talk to one BMC: where, as whom, and how to check its certificate.
/// Built from a machine's `BMCSettings` and its secret; its description shows no password.
public struct BMCEndpoint: Sendable, CustomStringConvertible, CustomReflectable {
    /// The address as the spec wrote it (what errors name).
    public let address: String
    /// `scheme://host[:port]`: every Redfish path is joined to this.
    public let baseURL: String
    /// Set when the address names one system (`https://bmc/redfish/v1/Systems/7`), as for a
    /// chassis manager that serves several systems or an emulator serving a thousand.
    public let systemPath: String?
    public let username: String
    let password: String
    public let tls: TLSPolicy

    public init(address: String, username: String, password: String, tls: TLSPolicy = .system) throws(BMCError) {
        guard let components = URLComponents(string: address), let scheme = components.scheme?.lowercased(),
              scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty else {
            throw BMCError(.configuration, address: address, "the BMC address must be an https:// URL such as https://ilo-web-01.example.net")
        }
        self.address = address
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        baseURL = "\(scheme)://\(hostPart)\(components.port.map { ":\($0)" } ?? "")"
        let path = components.path
        systemPath = RedfishPath.isWithin(path, "/redfish/v1/Systems") && !RedfishPath.same(path, "/redfish/v1/Systems") ? path : nil
        self.username = username
        self.password = password
        self.tls = tls
    }

    /// The endpoint of a machine's BMC as its spec says: the address, the credentials it names
    /// (looked up in `secrets`), the CA file (relative paths from `baseDirectory`, the config's
    /// folder) and `insecure` only when the spec sets it.
    public static func from(_ settings: BMCSettings, secrets: (any BMCCredentials)?, baseDirectory: String,
                            pinnedPublicKey: String? = nil) throws(BMCError) -> BMCEndpoint {
        guard let address = settings.address else {
            throw BMCError(.configuration, address: "(no address)", "the machine has no 'spec.bmc.address'")
        }
        guard let name = settings.credentials else {
            throw BMCError(.configuration, address: address, "no 'bmc.credentials': name the secret that holds the BMC's user name and password")
        }
        guard let secrets else {
            throw BMCError(.configuration, address: address, "the controller config has no 'secrets' folder to read credentials '\(name)' from")
        }
        // Before the secret is even read: a password never leaves in clear text.
        guard URLComponents(string: address)?.scheme?.lowercased() == "https" else {
            throw BMCError(.configuration, address: address,
                           "BMC credentials go only over https:// with a checked certificate or a pin; nothing was sent")
        }
        let login: (username: String, password: String)
        do {
            login = try secrets.login(name, for: address, unverifiedTLS: settings.insecure ?? false)
        } catch {
            throw BMCError(.configuration, address: address, "\(error)")
        }
        let caFile = settings.caFile.map { $0.hasPrefix("/") ? $0 : baseDirectory + "/" + $0 }
        let tls = TLSPolicy(caFile: caFile, pinnedPublicKey: pinnedPublicKey ?? settings.pinnedKey,
                            certificateFingerprint: settings.fingerprint, insecure: settings.insecure ?? false)
        return try BMCEndpoint(address: address, username: login.username, password: login.password, tls: tls)
    }

    public var description: String { "\(address) as \(username)" }
    /// `dump()` and debuggers show this, without the password.
    public var customMirror: Mirror {
        Mirror(self, children: ["address": address, "username": username, "tls": tls], displayStyle: .struct)
    }
}

/// Timeouts, retries and authentication choices for a Redfish connection.
public struct RedfishOptions: Sendable {
    /// How long to wait for the TCP and TLS handshake.
    public var connectTimeout: Duration = .seconds(5)
    /// How long one request may take in all.
    public var timeout: Duration = .seconds(30)
    /// Tries per request, the first included, on connection errors and 5xx answers.
    public var attempts: Int = 4
    /// The first wait between tries; it doubles each time, up to `maxBackoff`.
    public var backoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(8)
    /// The longest `Retry-After` obeyed; a BMC asking for more is waited on this long.
    public var maxRetryAfter: Duration = .seconds(30)
    /// Log in through SessionService when the BMC offers it (one password use per
    /// connection, then a token); otherwise basic auth on every request.
    public var useSessions = true
    /// Asked just before each request that changes the BMC (a POST or PATCH: power, boot,
    /// virtual media, firmware, BIOS; not a session's login or logout), retries and re-reads
    /// included: false refuses it unsent (`BMCError.Kind.notLeading`). A controller of a
    /// shared store passes whether it still leads, so a leader that was frozen past its
    /// lease sends nothing more when it wakes, however far into a step it was.
    public var mayChange: (@Sendable () -> Bool)?

    public init() {}
}
