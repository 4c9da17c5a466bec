import Foundation

/// Reads the spec files of a folder on disk, chosen by `SpecTreeRules`.
public struct SpecDirectory: Sendable {
    public var root: String

    public init(root: String) { self.root = root }

    /// The spec files, sorted by path, and the relative paths of every file in the tree
    /// (templates included), for reference checks.
    public func read() throws -> (files: [SpecFile], knownPaths: Set<String>) {
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: root, isDirectory: &isDirectory) else {
            throw SpecSourceError.notFound(root)
        }
        guard isDirectory.boolValue else {
            return ([try readFile(at: root, shownAs: root)], [])
        }
        let rootURL = URL(fileURLWithPath: root, isDirectory: true).standardizedFileURL
        let realRoot = Self.realPath(rootURL.path) ?? rootURL.path
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
                // Skipped entries (hidden, ignored) are not looked at further, links included.
                if rules.classify(relative, isDirectory: entryIsDirectory.boolValue) == .skipped { continue }
                let shown = Self.display(root: root, relative: relative)
                let isLink = (try? fileManager.destinationOfSymbolicLink(atPath: fullPath)) != nil
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
                switch rules.classify(relative, isDirectory: entryIsDirectory.boolValue) {
                case .skipped: continue
                case .folder: pending.append(relative)
                case .otherFile: knownPaths.insert(relative)
                case .spec:
                    knownPaths.insert(relative)
                    files.append(try readFile(at: fullPath, shownAs: Self.display(root: root, relative: relative)))
                }
            }
        }
        return (files.sorted { $0.path < $1.path }, knownPaths)
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

    public var description: String {
        switch self {
        case .notFound(let path): "\(path): no such file or folder"
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .badSymlink(let path, let reason): "\(path): symlink refused: \(reason)"
        }
    }
}
