@testable import DployTFTP
import DploySpec
import DployTestSupport
import Foundation
import NIOCore
import Synchronization
import Testing

/// A TFTP server on 127.0.0.1 (port 0, the kernel's choice) over a temporary folder, stopped
/// when the test ends.
final class RunningTFTP: Sendable {
    let server: TFTPServer
    let port: Int
    let folder: TemporaryFolder

    /// Config requests are answered by `bootConfig`; every request it sees is kept in `asked`.
    init(folder: TemporaryFolder, configure: (inout TFTPServer.Configuration) -> Void = { _ in },
         bootConfig: TFTPServer.BootConfig? = nil) async throws {
        var configuration = TFTPServer.Configuration(host: "127.0.0.1", port: 0)
        configure(&configuration)
        server = TFTPServer(configuration: configuration, folder: folder.path, bootConfig: bootConfig)
        port = try #require(try await server.start().port)
        self.folder = folder
    }

    func stop() async throws { try await server.stop() }
}

/// What a client (atftp, tftp-hpa) printed and whether it succeeded.
struct ClientRun {
    var succeeded: Bool
    var output: String
}

/// Runs a TFTP client to completion on a thread of its own, so that the server under test
/// keeps the test's (`.ownThread`); never throws on a non-zero exit (a refused transfer is
/// what some tests want).
func runClient(_ tool: String, _ arguments: [String]) async throws -> ClientRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return await withCheckedContinuation { continuation in
        Thread {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            continuation.resume(returning: ClientRun(succeeded: process.terminationStatus == 0, output: text))
        }.start()
    }
}

/// atftp getting `remote` into `local`, with `options` (`"blksize 1468"`), tracing packets.
func atftpGet(port: Int, _ remote: String, to local: String, options: [String] = []) async throws -> ClientRun {
    try await runClient(try Tool.atftp.require(),
                        ["--get", "-r", remote, "-l", local, "--trace", "--tftp-timeout", "2"]
                            + options.flatMap { ["--option", $0] } + ["127.0.0.1", String(port)])
}

/// A plain UDP socket on 127.0.0.1 speaking TFTP by hand, with a receive timeout.
final class RawTFTPClient {
    let descriptor: Int32
    let port: Int

    init(timeout seconds: Int = 5) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.descriptor = descriptor
        var address = Self.address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard descriptor >= 0, bound else { throw ToolFailure(message: "no UDP socket: \(String(cString: strerror(errno)))") }
        port = Int(UInt16(bigEndian: address.sin_port))
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    func send(_ packet: TFTPPacket, to port: Int) {
        let bytes = Array(packet.buffer(ByteBufferAllocator()).readableBytesView)
        var address = Self.address(port: port)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// The next packet and the port it came from; nil after the timeout.
    func receive() -> (packet: TFTPPacket, port: Int)? {
        var bytes = [UInt8](repeating: 0, count: 65536)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(descriptor, &bytes, bytes.count, 0, $0, &length) }
        }
        guard count >= 0, let packet = TFTPPacket(ByteBuffer(bytes: bytes[..<count])) else { return nil }
        return (packet, Int(UInt16(bigEndian: address.sin_port)))
    }
}

/// Requests a boot config answers, as the stub saw them.
final class AskedConfigs: Sendable {
    let asked = Mutex<[String]>([])

    var bootConfig: TFTPServer.BootConfig {
        { [self] loader, mac, address in
            asked.withLock { $0.append("\(loader) \(mac) \(address ?? "-")") }
            return "# \(loader) config for \(mac)\n"
        }
    }
}
