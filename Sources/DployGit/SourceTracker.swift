import DploySpec
import Foundation

/// One step of following a source: fetch, check the new commit (history, signature,
/// validation), and decide what desired state is in force. A commit that fails any check
/// never becomes desired state; the last good commit stays, and the error says why.
public struct SourceTracker {
    public let source: GitSource

    public init(source: GitSource) { self.source = source }

    public enum Outcome: Hashable, Sendable {
        /// The commit is new and valid: it is now the desired state.
        case accepted
        /// The commit is the last good one already.
        case unchanged
        /// The commit was refused; the last good commit (if any) stays in force.
        case rejected
    }

    public struct Update: Sendable {
        public var outcome: Outcome
        public var status: SourceStatus
        /// The desired state in force after this step: the new commit's, or the last good one's.
        public var desired: SourceSnapshot?
        /// The refused commit's load, with its diagnostics, when validation refused it.
        public var refused: SourceSnapshot?
    }

    public func update(_ previous: SourceStatus, now: Date = Date()) -> Update {
        // Whole seconds: the status file keeps ISO 8601 times, as git keeps commit times.
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        var status = previous
        status.updatedAt = now
        func refuse(_ message: String, commit: GitObjectID?, refused: SourceSnapshot? = nil) -> Update {
            status.lastError = SourceErrorRecord(commit: commit, message: message, at: now)
            let desired = status.lastGood.flatMap { try? source.load($0.id) }
            return Update(outcome: .rejected, status: status, desired: desired, refused: refused)
        }

        let commit: CommitInfo
        do {
            commit = try source.fetch()
        } catch {
            return refuse(String(describing: error), commit: nil)
        }
        status.lastFetched = commit
        if commit.id == previous.lastGood?.id, previous.lastError == nil {
            return Update(outcome: .unchanged, status: status, desired: try? source.load(commit.id), refused: nil)
        }
        do {
            if let applied = previous.lastApplied {
                try source.checkHistory(commit.id, descendsFrom: applied.id, role: "last applied")
            } else if let good = previous.lastGood {
                try source.checkHistory(commit.id, descendsFrom: good.id, role: "last good")
            }
            try source.verifySignature(commit.id)
            let snapshot = try source.load(commit.id)
            guard snapshot.result.isValid else {
                let count = snapshot.result.diagnostics.count
                let shown = snapshot.renderedDiagnostics.prefix(5).joined(separator: "\n")
                return refuse("commit \(commit.id.short) is invalid (\(count) error\(count == 1 ? "" : "s")):\n\(shown)"
                              + (count > 5 ? "\n… and \(count - 5) more" : ""),
                              commit: commit.id, refused: snapshot)
            }
            status.lastGood = commit
            status.lastError = nil
            return Update(outcome: .accepted, status: status, desired: snapshot, refused: nil)
        } catch {
            return refuse(String(describing: error), commit: commit.id)
        }
    }
}
