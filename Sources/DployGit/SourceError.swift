/// Why a commit could not be read as desired state, in words an operator can act on.
public enum SourceError: Error, CustomStringConvertible, Sendable, Equatable {
    case unsupportedURL(String, reason: String)
    case fetchFailed(String, reason: String)
    case unresolvedRef(String, reason: String)
    case pathMissing(String, commit: String)
    case historyRewritten(commit: String, previous: String, previousRole: String)
    case unsigned(commit: String)
    case badSignature(commit: String, reason: String)
    case verifierMissing(String)
    case treeTooDeep(String, limit: Int, commit: String)

    public var description: String {
        switch self {
        case .unsupportedURL(let url, let reason): "cannot use source \(url): \(reason)"
        case .fetchFailed(let url, let reason): "fetching \(url) failed: \(reason)"
        case .unresolvedRef(let ref, let reason): "cannot resolve ref '\(ref)': \(reason)"
        case .pathMissing(let path, let commit): "path '\(path)' does not exist at commit \(commit)"
        case .historyRewritten(let commit, let previous, let role):
            "history was rewritten: commit \(commit) does not descend from the \(role) commit \(previous); refusing it (set source.allowHistoryRewrite: true to accept a force-push)"
        case .unsigned(let commit): "commit \(commit) is not signed, and the source requires signatures from allowed signers"
        case .badSignature(let commit, let reason): "commit \(commit) has no valid signature from an allowed signer: \(reason)"
        case .verifierMissing(let tool): "cannot verify signatures: \(tool) not found (install openssh-client)"
        case .treeTooDeep(let path, let limit, let commit):
            "commit \(commit) nests folders more than \(limit) deep, at '\(path)': keep specs at most \(limit) folders down"
        }
    }
}
