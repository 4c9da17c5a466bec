import CLibPQ
import Foundation

/// Where and how the PostgreSQL store connects (`store: {postgres: …}` in dploy.yaml).
public struct PostgresSettings: Hashable, Sendable {
    /// How the server's certificate is checked (`tls:`), libpq's `sslmode`.
    public enum TLS: String, Hashable, Sendable, CaseIterable {
        /// The certificate chains to `caFile` (or the system's CAs) and names the host: the default.
        case verifyFull = "verify-full"
        /// Encrypted, the certificate chains to a CA, any host name.
        case verifyCA = "verify-ca"
        /// Plain TCP: only for a server on loopback or a Unix socket.
        case disable
    }

    /// `postgres://USER@HOST[:PORT]/DATABASE`; a Unix socket is `postgres://USER@%2Frun%2Fpostgresql/DATABASE`
    /// or `?host=/run/postgresql`. A password in the URL is refused: it would sit in dploy.yaml.
    public var url: String
    /// The password, read from the file dploy.yaml names (`passwordFile:`); nil for peer or trust logins.
    public var password: String?
    public var tls: TLS
    /// The CA certificate(s) the server's certificate must chain to (`caFile:`); without it,
    /// libpq's default, `~/.postgresql/root.crt` of the user dploy runs as.
    public var caFile: String?
    /// A connection that cannot be made in this long is an error (libpq's `connect_timeout`).
    public var connectTimeoutSeconds: Int = 3
    /// A statement (or a lock it waits for) that takes longer is cancelled by the server, so a
    /// stuck lock never hangs a boot request or the reconcile.
    public var statementTimeoutMilliseconds: Int = 5_000

    public init(url: String, password: String? = nil, tls: TLS = .verifyFull, caFile: String? = nil) {
        self.url = url
        self.password = password
        self.tls = tls
        self.caFile = caFile
    }

    /// The URL as logs and errors show it: rebuilt from what libpq reads, never with a
    /// password; one libpq cannot read is not shown at all.
    public var redactedURL: String { PostgresURL(url)?.redacted ?? "(a PostgreSQL URL libpq cannot read)" }

    /// libpq's connection keywords. The URL goes in as `dbname`, which libpq expands; what
    /// follows it overrides what the URL says, so a URL cannot turn TLS checking off.
    var keywords: [(String, String)] {
        var pairs: [(String, String)] = [("dbname", url)]
        if let password { pairs.append(("password", password)) }
        pairs.append(("sslmode", tls.rawValue))
        if let caFile { pairs.append(("sslrootcert", caFile)) }
        pairs.append(("connect_timeout", String(connectTimeoutSeconds)))
        // A server that stops answering is noticed in seconds, not after TCP's minutes.
        pairs += [("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"), ("keepalives_count", "3"),
                  ("tcp_user_timeout", "10000")]
        pairs.append(("application_name", "dploy"))
        // Dates are read back in the one form `StoreDate` reads; times are UTC.
        // A transaction left open by a controller that froze or lost its network ends after
        // 5 s, so the locks it holds (the leader row's, in a fenced write) never hold up a takeover.
        pairs.append(("options", "-c DateStyle=ISO,YMD -c TimeZone=UTC -c statement_timeout=\(statementTimeoutMilliseconds)"
                      + " -c idle_in_transaction_session_timeout=5000 -c client_min_messages=warning"))
        return pairs
    }
}

/// A value bound to a statement's `$n`, sent as text, as libpq's text format wants it.
protocol PostgresBindable {
    var postgresText: String { get }
}

extension String: PostgresBindable { var postgresText: String { self } }
extension Int: PostgresBindable { var postgresText: String { String(self) } }
extension Int64: PostgresBindable { var postgresText: String { String(self) } }
extension Bool: PostgresBindable { var postgresText: String { self ? "t" : "f" } }
extension Date: PostgresBindable { var postgresText: String { StoreDate.text(self) } }

/// What a statement returned: its columns by name, its rows as text (nil for NULL).
struct PostgresRows {
    let columns: [String: Int]
    let rows: [[String?]]
    /// Rows a command changed (UPDATE, DELETE, INSERT).
    let affected: Int

    var first: PostgresRow? { rows.first.map { PostgresRow(columns: columns, values: $0) } }
    var all: [PostgresRow] { rows.map { PostgresRow(columns: columns, values: $0) } }
}

struct PostgresRow {
    let columns: [String: Int]
    let values: [String?]

    subscript(_ column: String) -> String? {
        guard let index = columns[column] else { return nil }
        return values[index]
    }

    func int(_ column: String) -> Int? { self[column].flatMap { Int($0) } }

    func date(_ column: String) -> Date? { self[column].flatMap(StoreDate.date) }

    /// A column that must hold a value; a NULL or missing one names the table and key.
    func required(_ column: String, table: String, key: String) throws -> String {
        guard let value = self[column] else { throw StoreError.corruptRow(table, key, "\(column) is empty") }
        return value
    }

    func requiredDate(_ column: String, table: String, key: String) throws -> Date {
        guard let date = date(column) else { throw StoreError.corruptRow(table, key, "\(column) is not a date") }
        return date
    }
}

/// One libpq connection. Not thread-safe, as libpq's connections are not: `PostgresPool`
/// hands each to one caller at a time.
final class PostgresConnection {
    private var handle: OpaquePointer?
    let settings: PostgresSettings

    init(_ settings: PostgresSettings) throws(StoreError) {
        self.settings = settings
        handle = Self.connect(settings)
        try checkConnected()
    }

    deinit { PQfinish(handle) }

    private static func connect(_ settings: PostgresSettings) -> OpaquePointer? {
        let pairs = settings.keywords
        // strdup'd C strings, freed after the call; libpq copies what it keeps.
        let keys = pairs.map { strdup($0.0) } + [nil]
        let values = pairs.map { strdup($0.1) } + [nil]
        defer { (keys + values).forEach { free($0) } }
        return keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { keyBuffer in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { valueBuffer in
                PQconnectdbParams(keyBuffer.baseAddress, valueBuffer.baseAddress, 1)
            }
        }
    }

    /// Throws unless connected; a connection is non-blocking from then on: a statement bigger
    /// than the socket's buffer, sent to a server that stopped reading, waits in
    /// `awaitResult` under its deadline, not in send().
    private func checkConnected() throws(StoreError) {
        guard PQstatus(handle) == CONNECTION_OK else {
            throw StoreError.unusable(settings.redactedURL, "cannot connect: \(lastError)")
        }
        PQsetnonblocking(handle, 1)
    }

    /// Whether the server still answers on this connection, as far as libpq knows.
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// Whether the connection is idle and outside any transaction: the only state in which
    /// the pool lends it again.
    var isIdle: Bool { !isBroken && PQtransactionStatus(handle) == PQTRANS_IDLE }

    private var lastError: String {
        guard let message = PQerrorMessage(handle) else { return "unknown error" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Reconnects a connection the server or the network broke.
    func resetIfBroken() throws(StoreError) {
        guard isBroken else { return }
        if handle == nil { handle = Self.connect(settings) } else { PQreset(handle) }
        try checkConnected()
    }

    /// Runs one statement with `$1…` bound to `parameters` (nil is NULL).
    /// - Parameter patience: how long to wait for the answer; the statement timeout and
    ///   two seconds unless the caller knows better (a migration).
    @discardableResult
    func execute(_ sql: String, _ parameters: [(any PostgresBindable)?] = [], patience: Duration? = nil) throws(StoreError) -> PostgresRows {
        let texts = parameters.map { $0.map { strdup($0.postgresText) } ?? nil }
        defer { texts.forEach { free($0) } }
        // Without parameters, libpq's simple protocol, which also runs a script of several
        // statements (the migrations); with them, one statement whose values never reach its text.
        let sent = texts.isEmpty ? PQsendQuery(handle, sql) : texts.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            PQsendQueryParams(handle, sql, Int32(texts.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        guard sent == 1 else {
            let error = StoreError.postgres(isBroken ? "08006" : "XX000", lastError)
            abandon()
            throw error
        }
        let result = try awaitResult(patience: patience ?? .milliseconds(settings.statementTimeoutMilliseconds + 2000))
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
            break
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? lastError
            let text = message.isEmpty ? lastError : message.trimmingCharacters(in: .whitespacesAndNewlines)
            throw StoreError.postgres(state ?? (isBroken ? "08006" : "XX000"), text)
        }
        var columns: [String: Int] = [:]
        for index in 0..<PQnfields(result) {
            columns[String(cString: PQfname(result, index))] = Int(index)
        }
        var rows: [[String?]] = []
        let count = PQntuples(result)
        rows.reserveCapacity(Int(count))
        for row in 0..<count {
            rows.append((0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        let affected = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
        return PostgresRows(columns: columns, rows: rows, affected: affected)
    }

    /// The statement's result (of a script: its first error, else its last result), waited
    /// for at most `statementTimeout` and two seconds more. The server enforces the timeout
    /// itself; this deadline is for a server that cannot (frozen, or its host gone without a
    /// word): the connection is then closed, and the caller gets an error instead of a hang.
    private func awaitResult(patience: Duration) throws(StoreError) -> OpaquePointer? {
        let deadline = ContinuousClock.now + patience
        var kept: OpaquePointer?
        // Any way out but a result closes the connection: one left mid-statement or
        // mid-transaction must never be lent again.
        func fail(_ state: String, _ message: String) -> StoreError {
            PQclear(kept)
            let error = StoreError.postgres(state, message)
            abandon()
            return error
        }
        var unsent = PQflush(handle)
        while true {
            while unsent == 1 || PQisBusy(handle) == 1 {
                guard unsent >= 0 else { throw fail("08006", lastError) }
                let left = deadline - ContinuousClock.now
                let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
                let events = Int16(POLLIN) | (unsent == 1 ? Int16(POLLOUT) : 0)
                var descriptor = pollfd(fd: PQsocket(handle), events: events, revents: 0)
                let ready = left > .zero ? poll(&descriptor, 1, Int32(clamping: max(1, milliseconds))) : 0
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 {
                    throw fail("57014", "the database did not answer within \(patience.components.seconds) s; the connection was closed")
                }
                guard ready > 0, PQconsumeInput(handle) == 1 else { throw fail("08006", lastError) }
                if unsent == 1 { unsent = PQflush(handle) }
            }
            guard let result = PQgetResult(handle) else { break }
            if let earlier = kept, ![PGRES_COMMAND_OK, PGRES_TUPLES_OK].contains(PQresultStatus(earlier)) {
                PQclear(result)  // a script's first error is the one that says what went wrong
            } else {
                PQclear(kept)
                kept = result
            }
        }
        return kept
    }

    /// Closes a connection whose server stopped answering: it is broken from now on, and
    /// `resetIfBroken` makes a new one.
    private func abandon() {
        PQfinish(handle)
        handle = nil
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try execute("BEGIN")
        do {
            let value = try body(self)
            try execute("COMMIT")
            return value
        } catch {
            if !isBroken { _ = try? execute("ROLLBACK") }
            throw error
        }
    }
}
