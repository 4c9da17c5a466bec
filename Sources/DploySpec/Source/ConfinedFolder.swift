/// A folder served to the boot network without credentials (`output.http` over HTTP,
/// `output.tftp` over TFTP): a request is answered only with a file whose real path, every
/// symlink resolved, is inside the folder's real path and passes through no hidden name below
/// it. Anything else is as if it did not exist, so a link placed in the folder (`x ->
/// /etc/shadow`, or into the controller's state and secrets) discloses nothing, not even that
/// it is there.
///
/// The folder itself is resolved at each request, so it may be a symlink (an operator's
/// `output.tftp -> /srv/tftp`) and may appear after the server starts (the first apply makes
/// it). Links inside that stay inside are served: the file is found by its real path.
///
/// What this does not stop: someone who can write into the folder swapping a path for a link
/// between the check and the open. That needs write access to the folder, which is the
/// operator's and dploy's alone; it is not what a symlink left there by mistake can do.
public struct ConfinedFolder: Sendable, Hashable {
    public let folder: String

    public init(_ folder: String) {
        self.folder = folder
    }

    /// The real path of `path` (relative to the folder; leading slashes are dropped) when it
    /// exists and is confined as above; the folder's own real path for the folder itself.
    /// The caller refuses `..` first: this check is what catches links, not a parser's gap.
    public func realPath(of path: some StringProtocol) -> String? {
        guard let root = SpecDirectory.realPath(folder),
              let real = SpecDirectory.realPath(root + "/" + path.drop { $0 == "/" }) else { return nil }
        guard real != root else { return real }
        let base = root == "/" ? "/" : root + "/"
        guard real.hasPrefix(base) else { return nil }
        guard !real.dropFirst(base.count).split(separator: "/").contains(where: { $0.hasPrefix(".") }) else { return nil }
        return real
    }
}
