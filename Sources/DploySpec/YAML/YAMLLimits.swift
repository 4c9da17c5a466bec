/// Bounds that keep a hostile or broken file from exhausting the loader (see `YAMLPreflight`,
/// which enforces them before Yams builds a node, and docs/spec.md, "Limits").
///
/// Specs are small, hand-written documents; these limits are far above anything an
/// operator writes and far below what would hurt the controller.
public struct YAMLLimits: Sendable, Hashable {
    /// Largest file accepted, in bytes.
    public var maxFileBytes: Int
    /// Deepest nesting of mappings and sequences, block or flow.
    public var maxDepth: Int
    /// Most nodes a single document may expand to when its aliases are followed.
    public var maxExpandedNodes: Int
    /// Most aliases (`*name`) a single document may use.
    public var maxAliases: Int

    public init(maxFileBytes: Int = 1 << 20, maxDepth: Int = 64, maxExpandedNodes: Int = 100_000,
                maxAliases: Int = 1_000) {
        self.maxFileBytes = maxFileBytes
        self.maxDepth = maxDepth
        self.maxExpandedNodes = maxExpandedNodes
        self.maxAliases = maxAliases
    }

    public static let `default` = YAMLLimits()
}
