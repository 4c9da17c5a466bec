/// A kernel, an initrd and their arguments: an environment machines boot over the network
/// (dploy.yaml's `discovery` and `imaging`), rendered into an iPXE script by the server.
public struct BootEnvironment: Hashable, Sendable {
    public var kernel: String
    public var initrd: String
    public var args: String
    public init(kernel: String, initrd: String, args: String = "") {
        self.kernel = kernel
        self.initrd = initrd
        self.args = args
    }
}
