import NIOCore
import NIOPosix

/// One read request, on its own socket (its TID) and event loop: OACK when options were
/// accepted, then windows of DATA, each sent again only when its timer runs out (never on a
/// duplicate ACK: RFC 1350's Sorcerer's Apprentice), block numbers wrapping to 0 after 65535.
/// Ends on the last ACK, an ERROR from the client, too many retransmissions or the deadline;
/// the socket closes and the server's slot is freed.
final class TFTPTransfer: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private enum Phase {
        case resolving
        /// The OACK is out; the client answers with ACK 0 (RFC 2347).
        case awaitingOptionAck
        /// Reading the next window from the file.
        case reading
        /// The window `acked + 1 ... acked + count` is out, waiting for its ACK.
        case sending
        case done
    }

    private let server: TFTPServer
    private let client: SocketAddress
    private let packet: TFTPPacket
    private var context: ChannelHandlerContext?
    private var phase = Phase.resolving
    private var options = TFTPOptions()
    private var source: TFTPSource?
    /// Blocks the client has acknowledged, counted without wrapping.
    private var acked = 0
    private var lastBlock = 0
    /// The window in flight: its bytes, kept for retransmission; it starts at block `acked + 1`.
    private var window: ByteBuffer?
    private var windowBlocks = 0
    private var sends = 0
    private var timer: Scheduled<Void>?
    private var deadline: Scheduled<Void>?

    init(server: TFTPServer, client: SocketAddress, packet: TFTPPacket) {
        self.server = server
        self.client = client
        self.packet = packet
    }

    func channelActive(context: ChannelHandlerContext) {
        self.context = context
        let loop = context.eventLoop.assumeIsolated()
        deadline = loop.scheduleTask(in: .init(server.configuration.transferDeadline)) { [self] in
            fail(.notDefined, "transfer took longer than \(server.configuration.transferDeadline)")
        }
        guard case .readRequest(let request) = packet else {
            return fail(.accessViolation, "dploy's TFTP server only serves files; it takes none")
        }
        guard request.mode == "octet" || request.mode == "netascii" else {
            return fail(.illegalOperation, "transfer mode \(request.mode) is not served; use octet")
        }
        let resolver = server, client = client
        server.pool.runIfActive(eventLoop: context.eventLoop) {
            resolver.resolve(request.filename, client: client)
        }.assumeIsolated().whenComplete { [self] result in
            guard phase == .resolving else { return }
            switch result {
            case .failure(let error): fail(.notDefined, "\(error)")
            case .success(.failure(let refusal)):
                server.logger.debug("tftp: \(client) \(request.filename): \(refusal.message)")
                fail(refusal.code, refusal.message)
            case .success(.success(let source)):
                server.logger.debug("tftp: \(client) reads \(request.filename) (\(source.size) bytes)")
                start(source, requested: request.options)
            }
        }
    }

    private func start(_ source: TFTPSource, requested: [(String, String)]) {
        self.source = source
        options = TFTPOptions.negotiate(requested, maxWindowSize: server.configuration.maxWindowSize,
                                        maxWindowBytes: server.configuration.maxWindowBytes)
        lastBlock = source.size / options.blockSize + 1
        if options.accepted.isEmpty {
            sendWindow()
        } else {
            phase = .awaitingOptionAck
            resendCurrent()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == client else {
            // RFC 1350: a packet from another TID gets an error, and the transfer goes on.
            send(.error(.unknownTransferID, "unknown transfer ID"), to: envelope.remoteAddress)
            context.flush()
            return
        }
        switch TFTPPacket(envelope.data) {
        case .ack(let block):
            acknowledge(block)
        case .error:
            finish()
        default:
            break
        }
    }

    private func acknowledge(_ block: UInt16) {
        switch phase {
        case .awaitingOptionAck where block == 0:
            sendWindow()
        case .sending:
            // The block this ACK names, unwrapped: the window is far shorter than 65536 blocks.
            let named = acked + Int(block &- UInt16(truncatingIfNeeded: acked))
            // A duplicate (or older) ACK moves nothing and sends nothing.
            guard named > acked, named <= acked + windowBlocks else { return }
            acked = named
            if acked == lastBlock { return finish() }
            sendWindow()
        default:
            break
        }
    }

    /// Reads and sends the blocks after `acked`, at most a window of them.
    private func sendWindow() {
        guard let source, let context else { return }
        timer?.cancel()
        sends = 0
        windowBlocks = min(options.windowSize, lastBlock - acked)
        let offset = acked * options.blockSize, count = windowBlocks * options.blockSize
        switch source {
        case .memory(let buffer):
            let available = max(0, min(count, buffer.readableBytes - offset))
            window = buffer.getSlice(at: buffer.readerIndex + min(offset, buffer.readableBytes), length: available)
            phase = .sending
            resendCurrent()
        case .file(let file):
            phase = .reading
            let allocator = context.channel.allocator
            server.pool.runIfActive(eventLoop: context.eventLoop) {
                try file.read(offset: offset, count: count, allocator: allocator)
            }.assumeIsolated().whenComplete { [self] result in
                guard phase == .reading else { return }
                switch result {
                case .success(let bytes):
                    window = bytes
                    phase = .sending
                    resendCurrent()
                case .failure(let error):
                    fail(.notDefined, "cannot read the file: \(error)")
                }
            }
        }
    }

    /// Sends the OACK or the window in flight, and arms the retransmission timer.
    private func resendCurrent() {
        guard let context else { return }
        sends += 1
        guard sends <= 1 + server.configuration.maxRetransmissions else {
            server.logger.debug("tftp: \(client) stopped answering")
            return finish()
        }
        switch phase {
        case .awaitingOptionAck:
            send(.optionAck(options.acknowledged(size: source?.size ?? 0)), to: client)
        case .sending:
            guard var window else { return }
            for index in 0..<windowBlocks {
                let block = acked + 1 + index
                let length = min(options.blockSize, window.readableBytes)
                let payload = window.readSlice(length: length) ?? ByteBuffer()
                send(.data(block: UInt16(truncatingIfNeeded: block), payload: payload), to: client)
            }
        default:
            return
        }
        context.flush()
        let interval: TimeAmount = options.timeout.map { .seconds(Int64($0)) } ?? .init(server.configuration.retransmitInterval)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: interval) { [self] in
            resendCurrent()
        }
    }

    private func send(_ packet: TFTPPacket, to address: SocketAddress) {
        guard let context else { return }
        let envelope = AddressedEnvelope(remoteAddress: address, data: packet.buffer(context.channel.allocator))
        context.write(wrapOutboundOut(envelope), promise: nil)
    }

    private func fail(_ code: TFTPPacket.ErrorCode, _ message: String) {
        guard phase != .done, let context else { return }
        send(.error(code, message), to: client)
        context.flush()
        finish()
    }

    private func finish() {
        guard phase != .done else { return }
        phase = .done
        timer?.cancel()
        deadline?.cancel()
        window = nil
        source = nil
        context?.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        server.finished(client)
        self.context = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port unreachable from a client that went away: its timer ends the transfer.
        server.logger.debug("tftp: \(client): \(error)")
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
