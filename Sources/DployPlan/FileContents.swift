import DployRender

/// The contents of the files a plan writes, all in one buffer.
///
/// A daemon's first plan writes every file of its fleet: for 10,000 machines some thirty
/// thousand arrays of a few hundred bytes to a few kilobytes, allocated between the caches
/// the daemon keeps for its whole life. Freed after the apply, they left about 27 MB of
/// holes in glibc's heap, too small and scattered to reuse or give back. One buffer is
/// large enough to live outside the heap (mmap) and goes back to the system whole.
public struct FileContents: Sendable {
    private var buffer: [UInt8] = []
    private var ranges: [OutputPath: Range<Int>] = [:]

    public init() {}

    /// The contents the plan writes to `path`; nil when it writes no such file.
    public subscript(path: OutputPath) -> ArraySlice<UInt8>? {
        ranges[path].map { buffer[$0] }
    }

    /// How many files there are.
    public var count: Int { ranges.count }

    /// The paths of the files, in no order.
    public var paths: Dictionary<OutputPath, Range<Int>>.Keys { ranges.keys }

    /// Sets the contents of `path`. Contents set before for the same path are replaced;
    /// their bytes stay in the buffer, which lives only as long as the plan.
    mutating func set(_ contents: [UInt8], for path: OutputPath) {
        let start = buffer.count
        buffer.append(contentsOf: contents)
        ranges[path] = start..<buffer.count
    }
}

/// Two plans' files are equal when they write the same bytes to the same paths, however
/// their buffers are laid out (bytes set twice for one path stay in the buffer).
extension FileContents: Equatable {
    public static func == (lhs: FileContents, rhs: FileContents) -> Bool {
        lhs.count == rhs.count && lhs.paths.allSatisfy { lhs[$0] == rhs[$0] }
    }
}
