import DployRender
import DploySpec
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// dploy's TFTP server: read requests only (RFC 1350), with the blksize, tsize, timeout and
/// windowsize options (RFCs 2347–2349, 7440). A loader's config (`pxelinux.cfg/01-<mac>`,
/// `grub.cfg-01-<mac>`) is asked of `bootConfig` when requested, so a pxelinux or GRUB boot
/// is decided and counted like an iPXE one; every other name is a file below `folder`
/// (`output.tftp`), confined to it as `ConfinedFolder` says.
///
/// Each transfer has a socket of its own on an ephemeral port (its TID, RFC 1350) and lives
/// on one event loop; file reads and the boot decision (which writes to the store) run on
/// the server's own thread pool, never on an event loop or Swift's cooperative pool. A
/// hostile client is bounded: at most `maxTransfers` at once (one per client address and
/// port), each with a deadline, retransmissions capped, and one window of the file in memory.
public final class TFTPServer: Sendable {
    /// The config of the loader `loader` for the machine `mac` (as the loader wrote it),
    /// asked from `address`; nil: the name is looked for in the folder instead. Called on
    /// the server's thread pool: it may block.
    public typealias BootConfig = @Sendable (_ loader: BootLoader, _ mac: String, _ address: String?) -> String?

    public struct Configuration: Sendable {
        /// The address to listen on (`tftp.listen`, as `ControllerConfig.TFTP.address` reads it).
        public var host: String
        public var port: Int
        /// Transfers at once; a request beyond it is answered with an error ("server busy").
        public var maxTransfers = 256
        /// Transfers from one address at once (any port): one host cannot take every slot.
        public var maxTransfersPerAddress = 16
        /// How long one transfer may take, start to end, whatever the client does.
        public var transferDeadline: Duration = .seconds(600)
        /// The retransmission interval when the client asks for none (`timeout` option).
        public var retransmitInterval: Duration = .seconds(1)
        /// Sends of the same window (or OACK) without an answer before the transfer is dropped.
        public var maxRetransmissions = 5
        /// The largest windowsize granted (RFC 7440).
        public var maxWindowSize = 64
        /// The most bytes of one transfer's window, held for retransmission: windowsize is
        /// lowered so that blksize x windowsize stays under it.
        public var maxWindowBytes = 256 * 1024

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

    }

    let configuration: Configuration
    let folder: ConfinedFolder?
    let bootConfig: BootConfig?
    let logger: Logger
    let group: any EventLoopGroup
    let pool: NIOThreadPool
    /// Clients with a transfer in progress, by address and port.
    let active = Mutex<Set<SocketAddress>>([])
    private let channel = Mutex<(any Channel)?>(nil)

    /// - Parameters:
    ///   - folder: `output.tftp`; nil: only boot configs are served.
    public init(configuration: Configuration, folder: String?, bootConfig: BootConfig?,
                logger: Logger = Logger(label: "dploy.tftp"), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.folder = folder.map(ConfinedFolder.init)
        self.bootConfig = bootConfig
        self.logger = logger
        self.group = group
        pool = NIOThreadPool(numberOfThreads: 2)
    }

    /// Binds the listening socket and serves until `stop`; the address it is bound to.
    @discardableResult
    public func start() async throws -> SocketAddress {
        pool.start()
        let server = self
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(TFTPListener(server: server))
                }
            }
            .bind(host: configuration.host, port: configuration.port).get()
        self.channel.withLock { $0 = channel }
        guard let address = channel.localAddress else { throw ChannelError.unknownLocalAddress }
        return address
    }

    /// Closes the listening socket; transfers in progress end at their deadline or sooner.
    public func stop() async throws {
        let channel = self.channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await channel?.close()
        try await pool.shutdownGracefully()
    }

    /// Number of transfers in progress.
    public var transfers: Int { active.withLock { $0.count } }

    /// A read or write request from `client`: a transfer on a socket of its own. False when
    /// `maxTransfers` are in progress, or `maxTransfersPerAddress` from its address.
    func accept(_ packet: TFTPPacket, from client: SocketAddress) -> Bool {
        enum Admission { case admitted, resent, full }
        let admission: Admission = active.withLock { active in
            // A client whose request is already being answered resends it: the transfer answers.
            if active.contains(client) { return .resent }
            guard active.count < configuration.maxTransfers,
                  active.count(where: { $0.ipAddress == client.ipAddress }) < configuration.maxTransfersPerAddress else { return .full }
            active.insert(client)
            return .admitted
        }
        switch admission {
        case .resent: return true
        case .full:
            logger.warning("tftp: \(transfers) transfers in progress, refusing \(client)")
            return false
        case .admitted: break
        }
        let server = self
        let bootstrap = DatagramBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(TFTPTransfer(server: server, client: client, packet: packet))
            }
        }
        bootstrap.bind(host: configuration.host, port: 0).whenFailure { error in
            server.logger.error("tftp: no socket for a transfer to \(client): \(error)")
            server.finished(client)
        }
        return true
    }

    func finished(_ client: SocketAddress) {
        _ = active.withLock { $0.remove(client) }
    }

    /// What `name` is, for `client`: run on the thread pool (it opens files and asks the
    /// boot decider, which writes to the store).
    func resolve(_ filename: String, client: SocketAddress) -> Result<TFTPSource, TFTPRefusal> {
        let result = decide(filename, client: client)
        // One line per read request at debug level, like the HTTP access log: which machine
        // fetched which loader or config. The name is the client's text: no control
        // character of it reaches the log, where it could forge a line.
        let shown = String(String.UnicodeScalarView(filename.prefix(200).unicodeScalars.map { Names.isControlOrLineBreak($0) ? "?" : $0 }))
        let outcome: String = switch result {
        case .success(.memory): "decided"
        case .success(.file(let file)): "\(file.size) bytes"
        case .failure(let refusal): refusal.message
        }
        logger.debug("tftp", metadata: ["file": .string(shown), "client": .string(client.ipAddress ?? "?"), "result": .string(outcome)])
        return result
    }

    private func decide(_ filename: String, client: SocketAddress) -> Result<TFTPSource, TFTPRefusal> {
        switch TFTPName(filename) {
        case .refused:
            return .failure(TFTPRefusal(.accessViolation, "access violation"))
        case .notFound:
            return .failure(TFTPRefusal(.fileNotFound, "file not found"))
        case .bootConfig(let loader, let mac):
            if let answer = bootConfig?(loader, mac, client.ipAddress) {
                return .success(.memory(ByteBuffer(string: answer)))
            }
            return file(filename)
        case .file(let path):
            return file(path)
        }
    }

    /// A file of `output.tftp`, else a loader (or GRUB module) from where Debian's packages
    /// put it (`LoaderFiles`), so the TFTP root needs no copies.
    private func file(_ path: String) -> Result<TFTPSource, TFTPRefusal> {
        if let real = folder?.realPath(of: path), let file = TFTPFile(realPath: real) {
            return .success(.file(file))
        }
        // Resolved first: Debian links some (/usr/lib/ipxe/ipxe.efi -> /boot/ipxe.efi), and
        // TFTPFile opens without following links. The names are a fixed list of root's files.
        if let debian = LoaderFiles.debianFile(for: path, exists: { FileManager.default.isReadableFile(atPath: $0) }),
           let real = SpecDirectory.realPath(debian), let file = TFTPFile(realPath: real) {
            return .success(.file(file))
        }
        return .failure(TFTPRefusal(.fileNotFound, "file not found"))
    }
}

struct TFTPRefusal: Error {
    var code: TFTPPacket.ErrorCode
    var message: String

    init(_ code: TFTPPacket.ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}

/// The listening socket: requests start transfers; anything else there is ignored (an
/// answer to a spoofed source would only reflect traffic).
final class TFTPListener: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    let server: TFTPServer

    init(server: TFTPServer) {
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let packet = TFTPPacket(envelope.data) else { return }
        switch packet {
        case .readRequest, .writeRequest:
            // Busy: said at once, from this socket (no transfer, so no TID of its own), in a
            // packet no larger than the request.
            guard !server.accept(packet, from: envelope.remoteAddress) else { return }
            let busy = TFTPPacket.error(.notDefined, "server busy, try again").buffer(context.channel.allocator)
            context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: busy)), promise: nil)
        default: break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket reports ICMP errors of earlier sends here; it keeps serving.
        server.logger.debug("tftp: \(error)")
    }
}
