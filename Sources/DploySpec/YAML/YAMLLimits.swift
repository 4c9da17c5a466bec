/// Bounds that keep a hostile or broken file from exhausting the loader.
///
/// Specs are small, hand-written documents; these limits are far above anything an
/// operator writes and far below what would hurt the controller.
public struct YAMLLimits: Sendable, Hashable {
    /// Largest file accepted, in bytes.
    public var maxFileBytes: Int
    /// Deepest nesting of mappings, sequences and flow collections.
    public var maxDepth: Int
    /// Most nodes a single document may expand to when its aliases are followed.
    public var maxExpandedNodes: Int

    public init(maxFileBytes: Int = 1 << 20, maxDepth: Int = 64, maxExpandedNodes: Int = 100_000) {
        self.maxFileBytes = maxFileBytes
        self.maxDepth = maxDepth
        self.maxExpandedNodes = maxExpandedNodes
    }

    public static let `default` = YAMLLimits()
}
