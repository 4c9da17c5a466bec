import ArgumentParser
import DployConfig
import DployController
import DployInventory
import Foundation

extension StoreCommand {
    /// `dploy store copy`: moves a store to another kind (SQLite to PostgreSQL when a second
    /// controller joins, or back), checked row by row. Stop the daemons first: rows written
    /// after the copy read its source are not in it (an SQLite source's running daemon is
    /// refused by its lock file).
    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every row of one store into another, empty one, and check the copy row by row.",
            discussion: """
                Each end is sqlite:FILE or a postgres:// URL without a password. Stop every dploy \
                that writes to the source first: an SQLite source whose daemon runs (it holds \
                dploy.lock beside the file) is refused. Every table is copied, BMC jobs and the \
                install callbacks' key included. The destination must hold no rows; an SQLite \
                destination is created. For example: dploy store copy --from sqlite:state/dploy.db \
                --to postgres://dploy@db1/dploy --password-file db.password
                """
        )

        @Option(help: ArgumentHelp("The store to copy: sqlite:FILE or postgres://USER@HOST/DATABASE.", valueName: "store"))
        var from: String

        @Option(help: ArgumentHelp("The empty store to copy into: sqlite:FILE or postgres://USER@HOST/DATABASE.", valueName: "store"))
        var to: String

        @Option(help: ArgumentHelp("The PostgreSQL password, on the first line of a file only you can read (mode 0600).",
                                   valueName: "file"))
        var passwordFile: String?

        @Option(help: ArgumentHelp("How the PostgreSQL server's certificate is checked: verify-full (default), verify-ca, "
                                   + "or disable (Unix socket or loopback only).", valueName: "mode"))
        var tls: String = PostgresSettings.TLS.verifyFull.rawValue

        @Option(help: ArgumentHelp("The CA certificate the PostgreSQL server's certificate must chain to.", valueName: "file"))
        var caFile: String?

        func run() throws {
            do {
                // Held for the whole copy: no daemon or `dploy apply` writes to the source
                // meanwhile, and none starts writing to it before the copy has read it.
                let lock = try sourceLock()
                defer { lock?.release() }
                let source = try open(from, creating: false)
                let destination = try open(to, creating: true)
                let copied = try StoreCopy.copy(from: source, to: destination)
                print("Copied \(source.location) to \(destination.location), checked row by row:")
                for (table, rows) in copied.counts { print("  \(table): \(rows)") }
            } catch let error as ExitCode {
                throw error
            } catch let error as CustomStringConvertible & Error {
                printError("error: \(error)")
                throw ExitCode.failure
            }
        }

        /// The leader lock of an SQLite source (`dploy.lock` beside the file, which is the
        /// state folder), taken; nil for a PostgreSQL source. The copy reads the source in one
        /// transaction, so it is consistent whenever it runs, but what a running daemon writes
        /// after that read (a sighting, an install callback, a task run) would be in the source
        /// only: the copy would quietly lose it. A running writer is refused, by name.
        private func sourceLock() throws -> LeaderLock? {
            guard from.hasPrefix("sqlite:") else { return nil }
            let path = String(from.dropFirst("sqlite:".count))
            let folder = (path as NSString).deletingLastPathComponent
            let lock = LeaderLock(path: (folder.isEmpty ? "." : folder) + "/dploy.lock")
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard try lock.tryAcquire() else {
                throw ValidationError("another dploy (\(lock.holder)) holds \(lock.path) and writes to \(path): "
                    + "stop it first (systemctl stop dploy), or its writes after the copy would be lost; nothing was copied")
            }
            return lock
        }

        private func open(_ store: String, creating: Bool) throws -> any Store {
            if store.hasPrefix("sqlite:") {
                let path = String(store.dropFirst("sqlite:".count))
                guard creating || FileManager.default.fileExists(atPath: path) else {
                    throw ValidationError("\(path) does not exist")
                }
                return try SQLiteStore(path: path, readOnly: !creating)
            }
            guard case .success(let url) = ControllerConfig.postgresURL(store) else {
                // Not repeated: a refused URL may hold a password.
                if case .failure(let problem) = ControllerConfig.postgresURL(store), store.hasPrefix("postgres") {
                    throw ValidationError("the PostgreSQL URL \(problem.reason)")
                }
                throw ValidationError("a store is sqlite:FILE or a postgres:// URL")
            }
            guard let mode = PostgresSettings.TLS(rawValue: tls) else {
                throw ValidationError("--tls must be verify-full, verify-ca or disable, found '\(tls)'")
            }
            if mode == .disable, !ControllerConfig.isLocal(url) {
                throw ValidationError("--tls disable sends the store unencrypted: only for a Unix socket or loopback")
            }
            var settings = PostgresSettings(url: url, tls: mode, caFile: caFile)
            if let passwordFile { settings.password = try SecretFile.read(passwordFile) }
            return try PostgresStore(settings, readOnly: !creating)
        }
    }
}
