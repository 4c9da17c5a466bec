import Foundation

/// A folder or file of the controller's own (state, secrets, output, the store) that a spec
/// tree must never read from, whatever its `.dployignore` says.
public struct ProtectedPath: Sendable, Hashable {
    /// Absolute, or relative to the working directory; it need not exist yet.
    public var path: String
    /// What it is, as errors say it: "the controller's state folder".
    public var label: String

    public init(_ path: String, label: String) {
        self.path = path
        self.label = label
    }
}

/// What a spec folder holds: its spec files, every other file (templates), and the paths
/// that are or link into a protected path, which nothing reads.
public struct SpecTree: Sendable {
    public var files: [SpecFile]
    public var knownPaths: Set<String>
    /// Relative path -> the protected path's label. Folders are not walked into.
    public var refusedPaths: [String: String]
}

/// Reads the spec files of a folder on disk, chosen by `SpecTreeRules`.
public struct SpecDirectory: Sendable {
    public var root: String
    /// The controller's own folders and files: never read, and recorded in
    /// `SpecTree.refusedPaths` when the tree holds them or links into them. Each is compared
    /// with symlinks resolved, so a link to `state/web.token` is refused like the file.
    public var protected: [ProtectedPath]

    public init(root: String, protecting protected: [ProtectedPath] = []) {
        self.root = root
        self.protected = protected
    }

    /// The spec files, sorted by path, and the relative paths of every file in the tree
    /// (templates included), for reference checks.
    public func read() throws -> (files: [SpecFile], knownPaths: Set<String>) {
        let tree = try readTree()
        return (tree.files, tree.knownPaths)
    }

    /// The protected paths with symlinks resolved (as far as they exist), with their labels.
    public static func resolve(_ protected: [ProtectedPath]) -> [(path: String, label: String)] {
        protected.map { entry in
            let absolute = URL(fileURLWithPath: entry.path).standardizedFileURL.path
            if let real = Self.realPath(absolute) { return (real, entry.label) }
            let parent = (absolute as NSString).deletingLastPathComponent
            let name = (absolute as NSString).lastPathComponent
            return ((Self.realPath(parent) ?? parent) + "/" + name, entry.label)
        }
    }

    /// The label of the protected path that `realPath` is or lies inside, if any.
    public static func protectedLabel(of realPath: String, in protected: [(path: String, label: String)]) -> String? {
        protected.first { realPath == $0.path || realPath.hasPrefix($0.path == "/" ? "/" : $0.path + "/") }?.label
    }

    /// Like `read`, with the paths refused because they are, or link into, protected paths.
    public func readTree() throws -> SpecTree {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw SpecSourceError.notFound(root)
        }
        let guarded = Self.resolve(protected)
        if let real = Self.realPath(root), let label = Self.protectedLabel(of: real, in: guarded) {
            throw SpecSourceError.protected(root, label)
        }
        guard isDirectory.boolValue else {
            return SpecTree(files: [try readFile(at: root, shownAs: root)], knownPaths: [], refusedPaths: [:])
        }
        let rootURL = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        let realRoot = Self.realPath(rootURL.path) ?? rootURL.path
        var refused: [String: String] = [:]
        let ignoreURL = rootURL.appendingPathComponent(SpecTreeRules.ignoreFileName)
        let rules = SpecTreeRules(ignoreFile: try? String(contentsOf: ignoreURL, encoding: .utf8))

        var files: [SpecFile] = []
        var knownPaths: Set<String> = []
        var pending = [""]
        while let relativeFolder = pending.popLast() {
            let folderPath = relativeFolder.isEmpty ? rootURL.path : rootURL.appendingPathComponent(relativeFolder).path
            let entries: [String]
            do { entries = try fileManager.contentsOfDirectory(atPath: folderPath) } catch {
                throw SpecSourceError.unreadable(folderPath, error.localizedDescription)
            }
            for entry in entries.sorted() {
                let relative = relativeFolder.isEmpty ? entry : "\(relativeFolder)/\(entry)"
                let fullPath = rootURL.appendingPathComponent(relative).path
                var entryIsDirectory: ObjCBool = false
                let exists = fileManager.fileExists(atPath: fullPath, isDirectory: &entryIsDirectory)
                let isLink = (try? fileManager.destinationOfSymbolicLink(atPath: fullPath)) != nil
                let kind = rules.classify(relative, isDirectory: entryIsDirectory.boolValue)
                // The controller's own folders and files, and links into them, are refused before
                // .dployignore is asked: the ignore file is the spec authors' to change. Spec files
                // that are plain files inside a folder already walked need no look.
                if !guarded.isEmpty, exists, isLink || entryIsDirectory.boolValue || kind != .spec,
                   let real = Self.realPath(fullPath), let label = Self.protectedLabel(of: real, in: guarded) {
                    refused[relative] = label
                    continue
                }
                // Skipped entries (hidden, ignored) are not looked at further, links included.
                if kind == .skipped { continue }
                let shown = Self.display(root: root, relative: relative)
                guard exists else {
                    if isLink { throw SpecSourceError.badSymlink(shown, "it points nowhere") }
                    continue
                }
                // A symlink is followed only to a file inside the tree that dploy would read
                // itself, as in a git source: never out of it, never to an ignored file (a
                // template linked to a secret would be served over HTTP), never to a folder.
                if isLink {
                    if entryIsDirectory.boolValue { throw SpecSourceError.badSymlink(shown, "links to folders are not followed") }
                    guard let target = Self.realPath(fullPath), target.hasPrefix(realRoot + "/") else {
                        throw SpecSourceError.badSymlink(shown, "it points outside \(root)")
                    }
                    let targetRelative = String(target.dropFirst(realRoot.count + 1))
                    if rules.classify(targetRelative, isDirectory: false) == .skipped {
                        throw SpecSourceError.badSymlink(shown, "it points to \(targetRelative), which dploy ignores")
                    }
                }
                switch kind {
                case .skipped: continue
                case .folder: pending.append(relative)
                case .otherFile: knownPaths.insert(relative)
                case .spec:
                    knownPaths.insert(relative)
                    files.append(try readFile(at: fullPath, shownAs: Self.display(root: root, relative: relative)))
                }
            }
        }
        return SpecTree(files: files.sorted { $0.path < $1.path }, knownPaths: knownPaths, refusedPaths: refused)
    }

    /// The path with every symlink resolved, or nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Paths are shown as the operator wrote the root, so they can be pasted back.
    private static func display(root: String, relative: String) -> String {
        if root == "." || root == "./" { return relative }
        return root.hasSuffix("/") ? root + relative : "\(root)/\(relative)"
    }

    private func readFile(at path: String, shownAs shown: String) throws -> SpecFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpecSourceError.unreadable(shown, "permission denied or not a regular file")
        }
        return SpecFile(path: shown, contents: Array(data))
    }
}

public enum SpecSourceError: Error, CustomStringConvertible, Equatable {
    case notFound(String)
    case unreadable(String, String)
    case badSymlink(String, String)
    case protected(String, String)

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or folder"
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .badSymlink(let path, let reason): "\(path): symlink refused: \(reason)"
        case .protected(let path, let label): "\(path): the spec source is inside \(label); dploy reads no specs from there"
        }
    }
}
