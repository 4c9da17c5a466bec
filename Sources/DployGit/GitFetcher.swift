import CGit2
import DploySpec
import Foundation

/// Fetches a remote repository into a bare cache repository that dploy owns.
///
/// Branches land under `refs/remotes/origin/`, tags under `refs/tags/`, and the remote's
/// default branch is recorded as `refs/remotes/origin/HEAD`. Nothing is checked out.
///
/// One fetcher serves every fetch of a long-lived source: it opens the cache and looks its
/// remote up once. Debian's libgit2 1.5 leaks a PCRE2 match block (~18 KB) for every config
/// entry a regular expression does not match, and looking a remote up runs one over the
/// whole config (`url.*.insteadOf`): about 0.4 MB per lookup, which a daemon fetching every
/// minute would never give back.
final class GitFetcher {
    static let remoteName = "origin"

    let url: String
    let repository: GitRepository
    private let remote: OpaquePointer

    init(url: String, cachePath: String) throws {
        if FileManager.default.fileExists(atPath: cachePath) {
            repository = try GitRepository(openingAt: cachePath)
        } else {
            try FileModes.createFolders((cachePath as NSString).deletingLastPathComponent, mode: FileModes.stateFolder)
            repository = try GitRepository(creatingBareAt: cachePath)
        }
        self.url = url
        remote = try Self.remote(named: Self.remoteName, url: url, in: repository)
    }

    deinit { git_remote_free(remote) }

    /// Brings the cache up to date with the remote; returns the cache.
    func fetch() throws -> GitRepository {
        var callbacks = git_remote_callbacks()
        git_remote_init_callbacks(&callbacks, UInt32(GIT_REMOTE_CALLBACKS_VERSION))
        var proxy = git_proxy_options()
        git_proxy_options_init(&proxy, UInt32(GIT_PROXY_OPTIONS_VERSION))
        try GitError.check(git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, &proxy, nil), "connect to \(url)")
        var defaultBranch = git_buf()
        defer { git_buf_dispose(&defaultBranch) }
        let hasDefault = git_remote_default_branch(&defaultBranch, remote) == 0
        let headTarget = hasDefault ? defaultBranch.ptr.map { String(cString: $0) } : nil
        git_remote_disconnect(remote)

        var options = git_fetch_options()
        git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION))
        options.prune = GIT_FETCH_PRUNE
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL
        _ = try Self.withStringArray(["+refs/heads/*:refs/remotes/\(Self.remoteName)/*", "+refs/tags/*:refs/tags/*"]) { refspecs in
            try GitError.check(git_remote_fetch(remote, &refspecs, &options, "dploy: fetch"), "fetch \(url)")
        }
        if let headTarget, headTarget.hasPrefix("refs/heads/") {
            let tracking = "refs/remotes/\(Self.remoteName)/" + headTarget.dropFirst("refs/heads/".count)
            var reference: OpaquePointer?
            try GitError.check(git_reference_symbolic_create(&reference, repository.handle,
                                                             "refs/remotes/\(Self.remoteName)/HEAD", tracking, 1,
                                                             "dploy: remote HEAD"), "record the remote's HEAD")
            git_reference_free(reference)
        }
        return repository
    }

    /// The cache's remote, created on first use and pointed at `url` if the config changed.
    private static func remote(named name: String, url: String, in repository: GitRepository) throws -> OpaquePointer {
        var remote: OpaquePointer?
        if git_remote_lookup(&remote, repository.handle, name) == 0, let existing = remote {
            if let current = git_remote_url(existing), String(cString: current) == url { return existing }
            git_remote_free(existing)
            try GitError.check(git_remote_set_url(repository.handle, name, url), "point the cache at \(url)")
            try GitError.check(git_remote_lookup(&remote, repository.handle, name), "open remote \(name)")
            return remote!
        }
        try GitError.check(git_remote_create(&remote, repository.handle, name, url), "add remote \(url)")
        return remote!
    }

    private static func withStringArray<T>(_ strings: [String], _ body: (inout git_strarray) throws -> T) rethrows -> T {
        var pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeMutableBufferPointer { buffer in
            var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            return try body(&array)
        }
    }
}
