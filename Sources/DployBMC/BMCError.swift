import Foundation

/// Why a BMC did not do what was asked. The message says what went wrong and what to do; it
/// never holds a password or a session token (the connection redacts every message it makes).
public struct BMCError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// Nothing answered, or the connection broke (after the retries).
        case unreachable
        /// The certificate or the pinned key did not check out.
        case tls
        /// The BMC refused the user name or password.
        case unauthorized
        /// The BMC answered with an error status.
        case http
        /// The answer was not the Redfish the client expected.
        case badResponse
        /// The BMC does not offer this (no such action, value or resource).
        case unsupported
        /// A wait (power state, firmware task) ran out of time.
        case timeout
        /// A firmware update or other task ended in failure.
        case taskFailed
        /// The spec or the secret is not usable (no address, no credentials, unreadable secret).
        case configuration
        /// Not sent: this controller no longer leads its store (`RedfishOptions.mayChange`).
        case notLeading
    }

    public let kind: Kind
    /// The BMC's address, as in the spec.
    public let address: String
    public let message: String
    /// The HTTP status when the BMC answered with one.
    public let status: Int?

    public init(_ kind: Kind, address: String, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.address = address
        self.message = message
        self.status = status
    }

    public var description: String { "\(address): \(message)" }
}

/// Removes secrets from text meant for people: error messages, logs, BMC error bodies that
/// might echo a request.
struct Redactor: Sendable {
    var secrets: [String]

    func callAsFunction(_ text: String) -> String {
        secrets.filter { $0.count >= 1 }.sorted { $0.count > $1.count }.reduce(text) {
            $0.replacingOccurrences(of: $1, with: "<redacted>")
        }
    }
}
