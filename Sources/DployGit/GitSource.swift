import DploySpec
import Foundation

/// Reads desired state straight out of git objects at a commit, never checking anything out.
///
/// Loading is incremental: a subtree whose id has not changed since the last load is not
/// walked again, and a blob that has been parsed before is not parsed again, so a commit
/// that changes one file re-parses one file. Caches keep what the last two loads used (the
/// newest commit and the last good one may differ), so a long-lived daemon does not grow
/// with history. Sendable only in the sense that one task at a time owns it: it holds
/// libgit2 handles, and the reconcile loop is its only user.
public final class GitSource: @unchecked Sendable {
    public let config: GitSourceConfig
    /// The loader's own rules, run on every commit with the spec language's
    /// (`FleetValidator.rules`): a commit that breaks them is refused like an invalid one.
    public var rules: (@Sendable (Fleet) -> [Diagnostic])?
    /// Where remote repositories are fetched to; unused for a local repository.
    public let cacheDirectory: String

    private(set) var repository: GitRepository?
    /// The remote's cache and its remote, kept between fetches (see `GitFetcher`).
    private var fetcher: GitFetcher?
    /// Flattened file lists of trees already walked, by tree id, with the trees below each.
    private(set) var treeListings: [GitObjectID: (files: [TreeFile], subtrees: [GitObjectID])] = [:]
    /// Parsed spec files by blob id. Paths are repository paths, the same in every commit.
    private(set) var parsedBlobs: [BlobKey: ParsedFile] = [:]
    /// The trees and blobs the previous load used. After each load only those and the
    /// load's own stay cached: a daemon following a busy branch would otherwise keep every
    /// commit's listing of the fleet (a megabyte each at 10,000 machines), and going back
    /// one commit costs no parse.
    private var previousLoad: (trees: Set<GitObjectID>, blobs: Set<BlobKey>) = ([], [])
    /// Blobs parsed by the last `load`, for benchmarks and tests of incrementality.
    public private(set) var lastParseCount = 0
    /// Loads that assembled a fleet rather than taking one of `recentLoads`, for tests.
    private(set) var assembleCount = 0
    /// The last two loads, newest last, as the spec language saw them (before `rules`): a
    /// daemon whose branch did not move loads the same commit every run, and listing,
    /// assembling and validating 10,000 machines again was most of a quiet run. Two, since a
    /// refused newest commit and the last good one are both loaded on every run. A commit's
    /// specs never change, but `rules` may (the credential rules read the secrets folder),
    /// so they run on every load, cached or not: a commit they refused is not refused for good.
    private var recentLoads: [RecentLoad] = []

    private struct RecentLoad {
        var commit: GitObjectID
        var limits: YAMLLimits
        var snapshot: SourceSnapshot
        /// Problems with the commit's files, outside the spec language's diagnostics.
        var problems: [Diagnostic]
    }

    struct TreeFile: Hashable {
        var path: String  // relative to the tree it was listed from
        var id: GitObjectID
        var kind: GitTree.Entry.Kind
    }

    struct BlobKey: Hashable {
        var id: GitObjectID
        var path: String
    }

    public init(config: GitSourceConfig, cacheDirectory: String) {
        self.config = config
        self.cacheDirectory = cacheDirectory
    }

    /// Brings the source up to date (fetching a remote) and resolves the configured ref.
    public func fetch() throws -> CommitInfo {
        let repository: GitRepository
        if config.isRemote {
            let shown = GitSourceConfig.redacted(config.repository)
            if config.repository.hasPrefix("ssh://") || !config.repository.contains("://") {
                throw SourceError.unsupportedURL(shown, reason:
                    "ssh sources are not supported yet (dploy does not check SSH host keys for git); use https:// or file://")
            }
            if config.repository.hasPrefix("http://") || config.repository.hasPrefix("git://") {
                throw SourceError.unsupportedURL(shown, reason:
                    "it has no transport security; anyone on the path could change desired state: use https:// or file://")
            }
            do {
                let fetcher = try self.fetcher ?? GitFetcher(url: config.repository, cachePath: cachePath)
                self.fetcher = fetcher
                repository = try fetcher.fetch()
            } catch let error as GitError {
                self.fetcher = nil  // the next fetch starts afresh
                // The cache still holds the commits fetched before: the last good one stays readable.
                if self.repository == nil, FileManager.default.fileExists(atPath: cachePath) {
                    self.repository = try? GitRepository(openingAt: cachePath)
                }
                throw SourceError.fetchFailed(shown, reason: GitSourceConfig.redacted(error.message))
            }
        } else {
            repository = try self.repository ?? GitRepository(openingAt: config.repository)
        }
        self.repository = repository
        return try resolve(in: repository)
    }

    /// The bare cache repository for this source's URL, named after the URL without its
    /// credentials: a folder name shows in paths and messages, and a password must not.
    public var cachePath: String {
        let shown = GitSourceConfig.redacted(config.repository)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: stable across runs, unlike Hasher
        for byte in shown.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let readable = shown.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).suffix(3)
            .joined(separator: "-")
        return (cacheDirectory as NSString).appendingPathComponent("\(readable)-\(String(hash, radix: 16)).git")
    }

    private func resolve(in repository: GitRepository) throws -> CommitInfo {
        let candidates: [String]
        switch (config.ref, config.isRemote) {
        case (nil, true): candidates = ["refs/remotes/\(GitFetcher.remoteName)/HEAD"]
        case (nil, false): candidates = ["HEAD"]
        case (let ref?, true): candidates = ["refs/remotes/\(GitFetcher.remoteName)/\(ref)", "refs/tags/\(ref)", ref]
        case (let ref?, false): candidates = [ref]
        }
        var lastError: GitError?
        for candidate in candidates {
            do {
                let commit = try repository.commit(for: candidate)
                return CommitInfo(id: commit.id, summary: commit.summary, time: commit.time)
            } catch let error as GitError {
                lastError = lastError ?? error
            }
        }
        throw SourceError.unresolvedRef(config.ref ?? "HEAD", reason: lastError?.message ?? "not found")
    }

    /// Checks that `commit` descends from `previous`, unless the config allows rewrites.
    public func checkHistory(_ commit: GitObjectID, descendsFrom previous: GitObjectID, role: String) throws {
        guard !config.allowHistoryRewrite, let repository else { return }
        if try !repository.isDescendant(commit, of: previous) {
            throw SourceError.historyRewritten(commit: commit.short, previous: previous.short, previousRole: role)
        }
    }

    /// Checks the commit's signature when the config names allowed signers.
    public func verifySignature(_ commit: GitObjectID) throws {
        guard let allowedSigners = config.allowedSigners, let repository else { return }
        try CommitVerifier(allowedSigners: allowedSigners).verify(commit, in: repository)
    }

    /// Loads and validates the specs at `commit`. Problems with the commit's files
    /// (submodules, escaping symlinks, oversized blobs) are diagnostics like any other.
    public func load(_ commit: GitObjectID, limits: YAMLLimits = .default) throws -> SourceSnapshot {
        guard let repository else { throw SourceError.unresolvedRef(commit.short, reason: "fetch() first") }
        if let index = recentLoads.firstIndex(where: { $0.commit == commit && $0.limits == limits }) {
            lastParseCount = 0
            recentLoads.append(recentLoads.remove(at: index))
            return checked(recentLoads[recentLoads.count - 1])
        }
        let root = try repository.commit(commit).tree()
        var specTree = root
        if let path = config.path {
            guard let entry = try root.entry(atPath: path), entry.kind == .tree else {
                throw SourceError.pathMissing(path, commit: commit.short)
            }
            specTree = try repository.tree(entry.id)
        }
        let prefix = config.path.map { $0 + "/" } ?? ""
        var walkedTrees: Set<GitObjectID> = []
        let listing = try files(of: specTree, in: repository, walked: &walkedTrees, prefix: prefix, commit: commit)
        let ignoreFile = try listing.first { $0.path == SpecTreeRules.ignoreFileName }
            .flatMap { try repository.blob($0.id, limit: config.maxBlobBytes) }
        let rules = SpecTreeRules(ignoreFile: ignoreFile.map { String(decoding: $0, as: UTF8.self) })

        var parsed: [ParsedFile] = []
        var knownPaths: Set<String> = []
        var problems: [Diagnostic] = []
        var fileLimits = limits
        fileLimits.maxFileBytes = config.maxBlobBytes
        let parser = SpecFileParser(limits: fileLimits)
        var parseCount = 0
        var usedBlobs: Set<BlobKey> = []
        for file in listing {
            let repositoryPath = prefix + file.path
            let role = rules.classify(file.path, isDirectory: false)
            guard role != .skipped else { continue }
            knownPaths.insert(file.path)
            let at = SourceLocation(file: repositoryPath, line: 1, column: 1)
            var blobID = file.id
            switch file.kind {
            case .submodule:
                problems.append(Diagnostic("submodules are not supported: put the specs in the repository itself", at: at))
                continue
            case .symlink:
                switch try symlinkTarget(of: file, at: repositoryPath, root: root, in: repository) {
                case .success(let target): blobID = target
                case .failure(let problem):
                    problems.append(Diagnostic(problem.reason, at: at))
                    continue
                }
            case .tree, .blob: break
            }
            guard role == .spec else { continue }
            let key = BlobKey(id: blobID, path: repositoryPath)
            usedBlobs.insert(key)
            if let cached = parsedBlobs[key] {
                parsed.append(cached)
                continue
            }
            guard let bytes = try repository.blob(blobID, limit: config.maxBlobBytes) else {
                problems.append(Diagnostic("file is over the limit of \(config.maxBlobBytes) bytes; split it into several files",
                                           at: at))
                continue
            }
            let result = parser.parse(SpecFile(path: repositoryPath, contents: bytes))
            parseCount += 1
            parsedBlobs[key] = result
            parsed.append(result)
        }
        lastParseCount = parseCount
        treeListings = treeListings.filter { walkedTrees.contains($0.key) || previousLoad.trees.contains($0.key) }
        parsedBlobs = parsedBlobs.filter { usedBlobs.contains($0.key) || previousLoad.blobs.contains($0.key) }
        previousLoad = (walkedTrees, usedBlobs)
        let result = SpecLoader(knownPaths: knownPaths).assemble(parsed)
        assembleCount += 1
        let commitObject = try repository.commit(commit)
        let load = RecentLoad(commit: commit, limits: limits,
                              snapshot: SourceSnapshot(commit: CommitInfo(id: commit, summary: commitObject.summary,
                                                                          time: commitObject.time), result: result), problems: problems)
        recentLoads = recentLoads.suffix(1) + [load]
        return checked(load)
    }

    /// A load with the loader's own rules run on it now, as `SpecLoader` runs them (only on a
    /// fleet the spec language accepts), and the commit's file problems.
    private func checked(_ load: RecentLoad) -> SourceSnapshot {
        var snapshot = load.snapshot
        if snapshot.result.diagnostics.isEmpty, let rules { snapshot.result.diagnostics += rules(snapshot.result.fleet) }
        snapshot.result.diagnostics = (snapshot.result.diagnostics + load.problems).sorted()
        return snapshot
    }

    /// How many folders deep below the spec folder a commit may nest. Far beyond any spec
    /// layout, and it keeps a commit from making the walk (and its paths) arbitrarily long.
    public static let maxTreeDepth = 64

    /// Every file below `tree`, reusing the listing of any subtree walked before; `walked`
    /// gains the ids of the trees in use.
    ///
    /// Iterative, with an explicit stack: git allows trees nested thousands deep, and one
    /// call per level would let a pushed commit overflow the thread's stack.
    private func files(of tree: GitTree, in repository: GitRepository, walked: inout Set<GitObjectID>,
                       prefix: String, commit: GitObjectID) throws -> [TreeFile] {
        struct Folder {
            let id: GitObjectID
            let name: String  // the entry's name in its parent; empty for `tree`
            let entries: [GitTree.Entry]
            var next = 0
            var files: [TreeFile] = []
            var subtrees: [GitObjectID] = []
        }
        walked.insert(tree.id)
        if let cached = treeListings[tree.id] {
            // Its subtrees are in use too: kept for the next commit that changes one of them.
            walked.formUnion(cached.subtrees)
            return cached.files
        }
        var stack = [Folder(id: tree.id, name: "", entries: tree.entries)]
        while let top = stack.indices.last {
            if stack[top].next < stack[top].entries.count {
                let entry = stack[top].entries[stack[top].next]
                stack[top].next += 1
                guard entry.kind == .tree else {
                    stack[top].files.append(TreeFile(path: entry.name, id: entry.id, kind: entry.kind))
                    continue
                }
                walked.insert(entry.id)
                if let cached = treeListings[entry.id] {
                    walked.formUnion(cached.subtrees)
                    stack[top].files += cached.files.map { TreeFile(path: entry.name + "/" + $0.path, id: $0.id, kind: $0.kind) }
                    stack[top].subtrees += [entry.id] + cached.subtrees
                    continue
                }
                guard stack.count <= Self.maxTreeDepth else {
                    let path = prefix + (stack.dropFirst().map(\.name) + [entry.name]).joined(separator: "/")
                    throw SourceError.treeTooDeep(path, limit: Self.maxTreeDepth, commit: commit.short)
                }
                stack.append(Folder(id: entry.id, name: entry.name, entries: try repository.tree(entry.id).entries))
            } else {
                let done = stack.removeLast()
                treeListings[done.id] = (done.files, done.subtrees)
                guard let parent = stack.indices.last else { return done.files }
                stack[parent].files += done.files.map { TreeFile(path: done.name + "/" + $0.path, id: $0.id, kind: $0.kind) }
                stack[parent].subtrees += [done.id] + done.subtrees
            }
        }
        return []  // not reached: the loop returns when it closes `tree`
    }

    /// Follows a symlink inside the commit. One that leaves the repository, dangles or loops is refused.
    private func symlinkTarget(of file: TreeFile, at repositoryPath: String, root: GitTree,
                               in repository: GitRepository) throws -> Result<GitObjectID, ValueError> {
        var linkPath = repositoryPath
        var id = file.id
        for _ in 0..<8 {
            guard let target = try repository.blob(id, limit: 4096).map({ String(decoding: $0, as: UTF8.self) }) else {
                return .failure(ValueError("symlink target is too long"))
            }
            if target.hasPrefix("/") {
                return .failure(ValueError("symlink points outside the repository, to '\(target)'"))
            }
            var components = linkPath.split(separator: "/").dropLast().map(String.init)
            for component in target.split(separator: "/") {
                switch component {
                case ".": continue
                case "..":
                    if components.isEmpty {
                        return .failure(ValueError("symlink points outside the repository, to '\(target)'"))
                    }
                    components.removeLast()
                default: components.append(String(component))
                }
            }
            linkPath = components.joined(separator: "/")
            guard let entry = try root.entry(atPath: linkPath) else {
                return .failure(ValueError("symlink points to '\(target)', which does not exist in this commit"))
            }
            switch entry.kind {
            case .blob: return .success(entry.id)
            case .symlink: id = entry.id
            case .tree, .submodule:
                return .failure(ValueError("symlink points to a folder or submodule ('\(target)'); link files only"))
            }
        }
        return .failure(ValueError("symlinks nest more than 8 deep"))
    }
}

/// A commit, as recorded in source status.
public struct CommitInfo: Hashable, Sendable, Codable {
    public var id: GitObjectID
    public var summary: String
    public var time: Date
}

/// The specs at one commit and what validating them found.
public struct SourceSnapshot: Hashable, Sendable {
    public var commit: CommitInfo
    public var result: LoadResult

    /// Diagnostics in git's `rev:path` form, so `git show` opens the file as it was:
    /// `3f2a9c1:site-a/machines/web.yaml:8:3: error: …`.
    public var renderedDiagnostics: [String] {
        result.diagnostics.map { "\(commit.id.short):\($0)" }
    }
}

extension GitSource {
    /// A file's bytes at `commit`, by path relative to the spec folder (`--path`), or nil
    /// when there is no such file. For templates, which profiles name by that path; a
    /// symlink is followed as `load` follows it, inside the repository only.
    public func file(atPath relativePath: String, commit: GitObjectID) throws -> [UInt8]? {
        guard let repository else { throw SourceError.unresolvedRef(commit.short, reason: "fetch() first") }
        // Validation refuses these already; a path that climbs out of the spec folder is never
        // looked up, so nothing outside it (another folder of the repository) is rendered.
        let parts = relativePath.split(separator: "/")
        if relativePath.hasPrefix("/") || parts.contains("..") { return nil }
        let normalized = parts.filter { $0 != "." }.joined(separator: "/")
        let fullPath = (config.path.map { $0 + "/" } ?? "") + normalized
        let root = try repository.commit(commit).tree()
        guard let entry = try root.entry(atPath: fullPath) else { return nil }
        switch entry.kind {
        case .blob:
            return try repository.blob(entry.id, limit: config.maxBlobBytes)
        case .symlink:
            let file = TreeFile(path: normalized, id: entry.id, kind: .symlink)
            guard case .success(let target) = try symlinkTarget(of: file, at: fullPath, root: root, in: repository) else { return nil }
            return try repository.blob(target, limit: config.maxBlobBytes)
        case .tree, .submodule:
            return nil
        }
    }
}
