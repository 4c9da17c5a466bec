import CGit2
import Foundation

/// An open repository. Owns its libgit2 handle; not Sendable, so it stays with one task.
public final class GitRepository {
    let handle: OpaquePointer

    /// Opens a repository, bare or not, exactly at `path` (no search upwards). Nothing is
    /// ever checked out: dploy reads objects only, so an operator's work tree is safe.
    public init(openingAt path: String) throws {
        LibGit2.ensureInitialised()
        var repository: OpaquePointer?
        try GitError.check(git_repository_open_ext(&repository, path, GIT_REPOSITORY_OPEN_NO_SEARCH.rawValue, nil),
                           "open repository \(path)")
        handle = repository!
    }

    /// Creates a bare repository (the fetch cache).
    public init(creatingBareAt path: String) throws {
        LibGit2.ensureInitialised()
        var repository: OpaquePointer?
        try GitError.check(git_repository_init(&repository, path, 1), "create repository \(path)")
        handle = repository!
    }

    deinit { git_repository_free(handle) }

    /// Resolves a revision (branch, tag, commit id, `HEAD`, any revparse form) to a commit.
    public func commit(for revision: String) throws -> GitCommit {
        var object: OpaquePointer?
        try GitError.check(git_revparse_single(&object, handle, revision), "resolve '\(revision)'")
        defer { git_object_free(object) }
        var commit: OpaquePointer?
        try GitError.check(git_object_peel(&commit, object, GIT_OBJECT_COMMIT), "'\(revision)' is not a commit")
        return GitCommit(handle: commit!, repository: self)
    }

    public func commit(_ id: GitObjectID) throws -> GitCommit {
        var oid = id.oid
        var commit: OpaquePointer?
        try GitError.check(git_commit_lookup(&commit, handle, &oid), "look up commit \(id.short)")
        return GitCommit(handle: commit!, repository: self)
    }

    /// Whether `descendant` has `ancestor` in its history (a commit descends from itself).
    public func isDescendant(_ descendant: GitObjectID, of ancestor: GitObjectID) throws -> Bool {
        if descendant == ancestor { return true }
        var d = descendant.oid, a = ancestor.oid
        return try GitError.check(git_graph_descendant_of(handle, &d, &a), "compare history") == 1
    }

    public func tree(_ id: GitObjectID) throws -> GitTree {
        var oid = id.oid
        var tree: OpaquePointer?
        try GitError.check(git_tree_lookup(&tree, handle, &oid), "look up tree \(id.short)")
        return GitTree(handle: tree!, repository: self)
    }

    /// A blob's bytes; refuses blobs over `limit` without reading them.
    public func blob(_ id: GitObjectID, limit: Int) throws -> [UInt8]? {
        var oid = id.oid
        var blob: OpaquePointer?
        try GitError.check(git_blob_lookup(&blob, handle, &oid), "look up blob \(id.short)")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size <= limit else { return nil }
        guard size > 0, let content = git_blob_rawcontent(blob) else { return [] }
        return Array(UnsafeRawBufferPointer(start: content, count: size))
    }

    /// The content signed by a commit's signature, and the signature, or nil when unsigned.
    public func signature(of id: GitObjectID) throws -> (signature: [UInt8], signedData: [UInt8])? {
        var oid = id.oid
        var signature = git_buf(), signed = git_buf()
        defer {
            git_buf_dispose(&signature)
            git_buf_dispose(&signed)
        }
        let code = git_commit_extract_signature(&signature, &signed, handle, &oid, nil)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try GitError.check(code, "read the signature of \(id.short)")
        func bytes(_ buffer: git_buf) -> [UInt8] {
            guard let pointer = buffer.ptr else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: buffer.size))
        }
        return (bytes(signature), bytes(signed))
    }
}

/// A commit; its id, message and tree.
public final class GitCommit {
    let handle: OpaquePointer
    let repository: GitRepository

    init(handle: OpaquePointer, repository: GitRepository) {
        self.handle = handle
        self.repository = repository
    }

    deinit { git_commit_free(handle) }

    public var id: GitObjectID { GitObjectID(git_commit_id(handle).pointee) }

    /// The first line of the message.
    public var summary: String { git_commit_summary(handle).map { String(cString: $0) } ?? "" }

    public var time: Date { Date(timeIntervalSince1970: TimeInterval(git_commit_time(handle))) }

    public func tree() throws -> GitTree {
        var tree: OpaquePointer?
        try GitError.check(git_commit_tree(&tree, handle), "read the tree of \(id.short)")
        return GitTree(handle: tree!, repository: repository)
    }
}

/// A tree (folder) object.
public final class GitTree {
    let handle: OpaquePointer
    let repository: GitRepository

    init(handle: OpaquePointer, repository: GitRepository) {
        self.handle = handle
        self.repository = repository
    }

    deinit { git_tree_free(handle) }

    public var id: GitObjectID { GitObjectID(git_tree_id(handle).pointee) }

    public struct Entry: Hashable, Sendable {
        public enum Kind: Hashable, Sendable { case tree, blob, symlink, submodule }
        public var name: String
        public var id: GitObjectID
        public var kind: Kind
    }

    public var entries: [Entry] {
        (0..<git_tree_entrycount(handle)).compactMap { index in git_tree_entry_byindex(handle, index).map(Self.entry) }
    }

    /// A libgit2 tree entry as a value; the pointer stays with its tree.
    private static func entry(_ pointer: OpaquePointer) -> Entry {
        let kind: Entry.Kind = switch git_tree_entry_filemode(pointer) {
        case GIT_FILEMODE_TREE: .tree
        case GIT_FILEMODE_LINK: .symlink
        case GIT_FILEMODE_COMMIT: .submodule
        default: .blob
        }
        return Entry(name: String(cString: git_tree_entry_name(pointer)),
                     id: GitObjectID(git_tree_entry_id(pointer).pointee), kind: kind)
    }

    /// The entry at a `/`-separated path below this tree, or nil when there is none.
    public func entry(atPath path: String) throws -> Entry? {
        var entry: OpaquePointer?
        let code = git_tree_entry_bypath(&entry, handle, path)
        if code == GIT_ENOTFOUND.rawValue { return nil }
        try GitError.check(code, "look up '\(path)'")
        defer { git_tree_entry_free(entry) }
        return Self.entry(entry!)
    }
}
