import NIOCore

/// TFTP's packets (RFC 1350) and the option extension (RFC 2347): what the server reads and
/// what it writes. Everything is big-endian 16-bit opcodes and block numbers; strings are
/// NUL-terminated.
enum TFTPPacket: Equatable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    case data(block: UInt16, payload: ByteBuffer)
    case ack(block: UInt16)
    case error(code: UInt16, message: String)
    case optionAck([(String, String)])

    static func == (lhs: TFTPPacket, rhs: TFTPPacket) -> Bool {
        switch (lhs, rhs) {
        case (.readRequest(let a), .readRequest(let b)), (.writeRequest(let a), .writeRequest(let b)): a == b
        case (.data(let a, let x), .data(let b, let y)): a == b && x == y
        case (.ack(let a), .ack(let b)): a == b
        case (.error(let a, let x), .error(let b, let y)): a == b && x == y
        case (.optionAck(let a), .optionAck(let b)): a.elementsEqual(b) { $0 == $1 }
        default: false
        }
    }

    enum Opcode: UInt16 {
        case readRequest = 1, writeRequest, data, ack, error, optionAck
    }

    /// RFC 1350's error codes, and RFC 2347's 8.
    enum ErrorCode: UInt16 {
        case notDefined = 0, fileNotFound, accessViolation, diskFull, illegalOperation, unknownTransferID, fileExists, noSuchUser
        case optionRefused
    }

    /// Nil for anything that is not a well-formed packet: a server ignores those.
    init?(_ buffer: ByteBuffer) {
        var buffer = buffer
        guard let raw = buffer.readInteger(as: UInt16.self), let opcode = Opcode(rawValue: raw) else { return nil }
        switch opcode {
        case .readRequest, .writeRequest:
            guard let request = TFTPRequest(&buffer) else { return nil }
            self = opcode == .readRequest ? .readRequest(request) : .writeRequest(request)
        case .data:
            guard let block = buffer.readInteger(as: UInt16.self) else { return nil }
            self = .data(block: block, payload: buffer)
        case .ack:
            guard let block = buffer.readInteger(as: UInt16.self) else { return nil }
            self = .ack(block: block)
        case .error:
            guard let code = buffer.readInteger(as: UInt16.self) else { return nil }
            let message = Self.readString(&buffer) ?? ""
            self = .error(code: code, message: message)
        case .optionAck:
            var options: [(String, String)] = []
            while buffer.readableBytes > 0 {
                guard let name = Self.readString(&buffer), let value = Self.readString(&buffer) else { return nil }
                options.append((name, value))
            }
            self = .optionAck(options)
        }
    }

    func write(to buffer: inout ByteBuffer) {
        switch self {
        case .readRequest(let request), .writeRequest(let request):
            buffer.writeInteger(self.opcode.rawValue)
            for string in [request.filename, request.mode] + request.options.flatMap({ [$0.0, $0.1] }) {
                Self.writeString(string, to: &buffer)
            }
        case .data(let block, var payload):
            buffer.writeInteger(Opcode.data.rawValue)
            buffer.writeInteger(block)
            buffer.writeBuffer(&payload)
        case .ack(let block):
            buffer.writeInteger(Opcode.ack.rawValue)
            buffer.writeInteger(block)
        case .error(let code, let message):
            buffer.writeInteger(Opcode.error.rawValue)
            buffer.writeInteger(code)
            Self.writeString(message, to: &buffer)
        case .optionAck(let options):
            buffer.writeInteger(Opcode.optionAck.rawValue)
            for (name, value) in options {
                Self.writeString(name, to: &buffer)
                Self.writeString(value, to: &buffer)
            }
        }
    }

    var opcode: Opcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .ack: .ack
        case .error: .error
        case .optionAck: .optionAck
        }
    }

    func buffer(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 4)
        write(to: &buffer)
        return buffer
    }

    static func error(_ code: ErrorCode, _ message: String) -> TFTPPacket { .error(code: code.rawValue, message: message) }

    /// A NUL-terminated string; nil without its NUL or when it is not UTF-8.
    static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let end = buffer.readableBytesView.firstIndex(of: 0) else { return nil }
        let length = end - buffer.readerIndex
        guard let bytes = buffer.readBytes(length: length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 1)
        return String(validating: bytes, as: UTF8.self)
    }

    static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeString(string)
        buffer.writeInteger(UInt8(0))
    }
}

/// A read or write request: the file's name as the client wrote it, the transfer mode and
/// the options (RFC 2347), names lowercased, in the order sent.
struct TFTPRequest: Equatable, Sendable {
    var filename: String
    var mode: String
    var options: [(String, String)]

    init(filename: String, mode: String = "octet", options: [(String, String)] = []) {
        self.filename = filename
        self.mode = mode
        self.options = options
    }

    init?(_ buffer: inout ByteBuffer) {
        guard let filename = TFTPPacket.readString(&buffer), let mode = TFTPPacket.readString(&buffer) else { return nil }
        var options: [(String, String)] = []
        // A value missing its name or NUL ends the options: what came before still counts.
        while buffer.readableBytes > 0, let name = TFTPPacket.readString(&buffer), let value = TFTPPacket.readString(&buffer) {
            options.append((name.lowercased(), value))
        }
        self.init(filename: filename, mode: mode.lowercased(), options: options)
    }

    static func == (lhs: TFTPRequest, rhs: TFTPRequest) -> Bool {
        lhs.filename == rhs.filename && lhs.mode == rhs.mode && lhs.options.elementsEqual(rhs.options) { $0 == $1 }
    }
}

/// What a transfer runs with: RFC 1350's defaults, changed by the options the server accepted.
struct TFTPOptions: Equatable, Sendable {
    var blockSize = 512
    var windowSize = 1
    /// Seconds; nil: the server's own retransmission interval.
    var timeout: Int?
    /// Whether the client asked for the transfer size (RFC 2349).
    var wantsSize = false
    /// The options to acknowledge, in the order the client sent them; none: no OACK.
    var accepted: [String] = []

    /// RFC 2348: 8 to 65464 bytes; RFC 2349: timeout 1 to 255 s, tsize;
    /// RFC 7440: windowsize 1 to 65535. A value out of range leaves the option out (the
    /// client then runs with the default); a larger one than the server allows is lowered
    /// (blksize, windowsize), as the RFCs let a server answer. Unknown options are ignored.
    static func negotiate(_ requested: [(String, String)], maxWindowSize: Int, maxWindowBytes: Int) -> TFTPOptions {
        var options = TFTPOptions()
        for (name, value) in requested where !options.accepted.contains(name) {
            // tsize's value in a read request says nothing (RFC 2349 has it 0); atftp sends
            // "enable", so any value is taken, as dnsmasq does.
            let number = name == "tsize" ? 0 : Int(value) ?? -1
            switch name {
            case "blksize" where (8...65464).contains(number):
                options.blockSize = min(number, maxWindowBytes)
            case "windowsize" where (1...65535).contains(number):
                options.windowSize = min(number, maxWindowSize)
            // RFC 2349 allows 255 s; more than 10 would let one unanswered request, from a
            // forged address, hold a transfer slot for minutes (6 sends x the timeout).
            case "timeout" where (1...10).contains(number):
                options.timeout = number
            case "tsize":
                options.wantsSize = true
            default:
                continue
            }
            options.accepted.append(name)
        }
        // Memory per transfer: the window in flight, kept for retransmission.
        options.windowSize = max(1, min(options.windowSize, maxWindowBytes / options.blockSize))
        return options
    }

    /// The OACK's options for a file of `size` bytes.
    func acknowledged(size: Int) -> [(String, String)] {
        accepted.map { name in
            switch name {
            case "blksize": (name, String(blockSize))
            case "windowsize": (name, String(windowSize))
            case "timeout": (name, String(timeout ?? 1))
            default: (name, String(size))
            }
        }
    }
}
