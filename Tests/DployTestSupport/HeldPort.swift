import Foundation

/// A loopback TCP port this test holds: bound (port 0, the kernel's choice) for as long as
/// the value lives, so no other test's server can take it. Without `listen`, a connection
/// to it is refused (a BMC or host that is down); with it, connections queue unanswered
/// (a host that hangs). A test never uses a port "found free" and let go: a parallel test
/// may be handed the same one.
public final class HeldPort: @unchecked Sendable {
    public let port: Int
    /// The bound socket, for a test that accepts on it; closed when the value goes away.
    public let descriptor: Int32

    /// - Parameter backlog: connections queued before accept, when listening.
    public init(listen: Bool = false, backlog: Int32 = 1) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ToolFailure(message: "no socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound, !listen || Glibc.listen(fd, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw ToolFailure(message: "no port to hold: \(reason)")
        }
        descriptor = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
