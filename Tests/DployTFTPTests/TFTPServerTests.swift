@testable import DployTFTP
import DploySpec
import DployTestSupport
import Foundation
import NIOCore
import Testing

/// dploy's TFTP server against Debian's clients on 127.0.0.1: atftp (with options) and
/// tftp-hpa (plain RFC 1350).
@Suite("TFTP with real clients", .ownThread)
struct TFTPClientTests {
    /// A folder holding `big` (5 MiB of random bytes), pxelinux.cfg/default, and a link
    /// pointing out of it.
    static func folder() throws -> TemporaryFolder {
        let folder = try TemporaryFolder(prefix: "dploy-tftp")
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(5 * 1024 * 1024 / 8)).flatMap { _ in withUnsafeBytes(of: generator.next() as UInt64, Array.init) }
        try Data(bytes).write(to: folder.url.appendingPathComponent("big"))
        try FileManager.default.createDirectory(at: folder.url.appendingPathComponent("pxelinux.cfg"), withIntermediateDirectories: true)
        try folder.write("pxelinux.cfg/default", "DEFAULT menu\n", mode: 0o644)
        try FileManager.default.createSymbolicLink(atPath: folder.file("passwd"), withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: folder.file("etc"), withDestinationPath: "/etc")
        try folder.write(".hidden", "staged\n", mode: 0o644)
        return folder
    }

    @Test("a 5 MiB file with blksize 1468, windowsize 8 and tsize arrives whole, and the OACK says its size", .requires(.atftp))
    func largeFileWithOptions() async throws {
        let folder = try Self.folder()
        let tftp = try await RunningTFTP(folder: folder)
        let local = folder.file("got")
        let started = Date()
        let run = try await atftpGet(port: tftp.port, "big", to: local,
                                     options: ["blksize 1468", "tsize enable", "windowsize 8"])
        let seconds = Date().timeIntervalSince(started)
        try await tftp.stop()
        #expect(run.succeeded, "\(run.output.suffix(2000))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: local)) == Data(contentsOf: folder.url.appendingPathComponent("big")))
        #expect(run.output.contains("tsize: 5242880"), "\(run.output.prefix(2000))")
        #expect(run.output.contains("blksize: 1468") && run.output.contains("windowsize: 8"), "\(run.output.prefix(2000))")
        print("tftp: 5 MiB with blksize 1468, windowsize 8 on loopback in \(seconds) s: \(5 / seconds) MiB/s")
    }

    @Test("tftp-hpa, with no options, gets the 5 MiB file in 512-byte blocks", .requires(.tftp))
    func largeFilePlain() async throws {
        let folder = try Self.folder()
        let tftp = try await RunningTFTP(folder: folder)
        let local = folder.file("got")
        let run = try await runClient(try Tool.tftp.require(),
                                      ["-m", "octet", "127.0.0.1", String(tftp.port), "-c", "get", "big", local])
        try await tftp.stop()
        #expect(run.succeeded, "\(run.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: local)) == Data(contentsOf: folder.url.appendingPathComponent("big")))
    }

    @Test("blksize 8: more than 65535 blocks, the block number wraps and the file still arrives whole", .requires(.atftp))
    func blockNumberRollover() async throws {
        let folder = try TemporaryFolder(prefix: "dploy-tftp")
        let bytes = (0..<(70_000 * 8 + 5)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        try Data(bytes).write(to: folder.url.appendingPathComponent("wraps"))
        let tftp = try await RunningTFTP(folder: folder)
        let local = folder.file("got")
        let run = try await atftpGet(port: tftp.port, "wraps", to: local, options: ["blksize 8", "windowsize 64"])
        try await tftp.stop()
        #expect(run.succeeded, "\(run.output.suffix(2000))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: local)) == Data(bytes))
    }

    @Test("a missing file, ../etc/passwd, links out of the folder, a hidden name and a backslash are refused", .requires(.atftp))
    func refusals() async throws {
        let folder = try Self.folder()
        let tftp = try await RunningTFTP(folder: folder)
        let cases: [(String, String)] = [
            ("missing", "File not found"), ("../etc/passwd", "access violation"), ("pxelinux.cfg/../../etc/passwd", "access violation"),
            ("passwd", "file not found"), ("etc/passwd", "file not found"), ("/etc/passwd", "file not found"), (".hidden", "file not found"),
            ("..\\etc\\passwd", "access violation"), ("pxelinux.cfg", "file not found"),
        ]
        for (name, _) in cases {
            let local = folder.file("got-\(UUID().uuidString)")
            let run = try await atftpGet(port: tftp.port, name, to: local)
            #expect(!run.succeeded, "\(name) was served: \(run.output)")
            #expect(run.output.contains("error received from server"), "\(name): \(run.output)")
            #expect((try? Data(contentsOf: URL(fileURLWithPath: local)))?.isEmpty ?? true, "\(name): bytes arrived")
        }
        // Still serving after all that, and none of them holds a slot.
        let run = try await atftpGet(port: tftp.port, "pxelinux.cfg/default", to: folder.file("default"))
        #expect(run.succeeded && folder.read("default") == "DEFAULT menu\n", "\(run.output)")
        #expect(try await eventually { tftp.server.transfers == 0 })
        try await tftp.stop()
    }

    @Test("loaders and GRUB's modules missing from the folder come from Debian's paths, unchanged; other names do not",
          .requires(.atftp),
          .enabled(if: ["/usr/lib/PXELINUX/lpxelinux.0", "/usr/lib/grub/x86_64-efi/http.mod", "/usr/lib/ipxe/ipxe.efi"]
                    .allSatisfy(FileManager.default.fileExists(atPath:)) || integrationRequired,
                   "the pxelinux and grub-efi-amd64-bin packages are not installed (sudo bash .ci/setup)"))
    func debianLoaders() async throws {
        let folder = try Self.folder()
        let tftp = try await RunningTFTP(folder: folder)
        // ipxe.efi is a link in Debian's package (to /boot/ipxe.efi), which a file open
        // without following links refused.
        for (remote, path) in [("lpxelinux.0", "/usr/lib/PXELINUX/lpxelinux.0"), ("grub/x86_64-efi/http.mod", "/usr/lib/grub/x86_64-efi/http.mod"),
                               ("ipxe.efi", "/usr/lib/ipxe/ipxe.efi")] {
            let local = folder.file("got-\(UUID().uuidString)")
            let run = try await atftpGet(port: tftp.port, remote, to: local, options: ["blksize 1468"])
            #expect(run.succeeded, "\(remote): \(run.output.suffix(500))")
            #expect(try Data(contentsOf: URL(fileURLWithPath: local)) == Data(contentsOf: URL(fileURLWithPath: path)), "\(remote)")
        }
        for remote in ["grub/x86_64-efi/../../../etc/passwd", "grub/x86_64-efi/moddep", "ldlinux.c32/../passwd", "pxelinux.0.bak"] {
            let run = try await atftpGet(port: tftp.port, remote, to: folder.file("got-\(UUID().uuidString)"))
            #expect(!run.succeeded, "\(remote) was served: \(run.output)")
        }
        try await tftp.stop()
    }

    @Test("pxelinux.cfg/01-<mac> and grub.cfg-01-<mac> are asked of the boot decider with the client's address; other names are files",
          .requires(.atftp))
    func bootConfigs() async throws {
        let folder = try Self.folder()
        let asked = AskedConfigs()
        let tftp = try await RunningTFTP(folder: folder, bootConfig: asked.bootConfig)
        for (remote, expected) in [
            ("pxelinux.cfg/01-94-18-82-3a-5c-10", "# pxelinux config for 94-18-82-3a-5c-10\n"),
            ("/boot/grub/grub.cfg-01-94-18-82-3a-5c-10", "# grub config for 94-18-82-3a-5c-10\n"),
            ("grub.cfg-01-94-18-82-3a-5c-11", "# grub config for 94-18-82-3a-5c-11\n"),
            ("pxelinux.cfg/default", "DEFAULT menu\n"),
        ] {
            let local = folder.file("got-\(UUID().uuidString)")
            let run = try await atftpGet(port: tftp.port, remote, to: local, options: ["tsize enable", "blksize 1024"])
            #expect(run.succeeded, "\(remote): \(run.output)")
            #expect((try? String(contentsOfFile: local, encoding: .utf8)) == expected, "\(remote)")
            #expect(run.output.contains("tsize: \(expected.utf8.count)"), "\(remote): \(run.output)")
        }
        // pxelinux's other probes (UUID, address in hex) are files, here missing.
        #expect(!(try await atftpGet(port: tftp.port, "pxelinux.cfg/C612", to: folder.file("probe"))).succeeded)
        try await tftp.stop()
        #expect(asked.asked.withLock { $0 } == ["pxelinux 94-18-82-3a-5c-10 127.0.0.1", "grub 94-18-82-3a-5c-10 127.0.0.1",
                                                 "grub 94-18-82-3a-5c-11 127.0.0.1"])
    }
}

/// The protocol by hand, from a raw UDP socket: what no client shows.
@Suite("TFTP protocol", .ownThread)
struct TFTPProtocolTests {
    static func folder(_ name: String = "file", bytes: Int) throws -> TemporaryFolder {
        let folder = try TemporaryFolder(prefix: "dploy-tftp")
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0) }).write(to: folder.url.appendingPathComponent(name))
        return folder
    }

    static func payload(_ packet: TFTPPacket?) -> [UInt8]? {
        if case .data(_, let payload) = packet { return Array(payload.readableBytesView) }
        return nil
    }

    @Test("a packet from another port than the client's gets 'unknown transfer ID', and the transfer goes on")
    func unknownTransferID() async throws {
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 20))
        let client = try RawTFTPClient(), stranger = try RawTFTPClient()
        client.send(.readRequest(TFTPRequest(filename: "file", options: [("blksize", "8")])), to: tftp.port)
        let oack = try #require(client.receive())
        #expect(oack.packet == .optionAck([("blksize", "8")]))
        #expect(oack.port != tftp.port, "the transfer has a port of its own")
        stranger.send(.ack(block: 0), to: oack.port)
        #expect(stranger.receive()?.packet == .error(code: 5, message: "unknown transfer ID"))
        client.send(.ack(block: 0), to: oack.port)
        let first = client.receive()
        #expect(first?.port == oack.port)
        #expect(Self.payload(first?.packet) == Array(0..<8))
        try await tftp.stop()
    }

    @Test("a client's timeout option above 10 s is not taken: an unanswered transfer cannot hold a slot for minutes")
    func timeoutCapped() async throws {
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 20))
        let client = try RawTFTPClient()
        client.send(.readRequest(TFTPRequest(filename: "file", options: [("timeout", "255"), ("blksize", "8")])), to: tftp.port)
        #expect(client.receive()?.packet == .optionAck([("blksize", "8")]))
        let other = try RawTFTPClient()
        other.send(.readRequest(TFTPRequest(filename: "file", options: [("timeout", "10")])), to: tftp.port)
        #expect(other.receive()?.packet == .optionAck([("timeout", "10")]))
        try await tftp.stop()
    }

    @Test("a duplicate ACK sends nothing (Sorcerer's Apprentice): after it, the next packet is the next block")
    func duplicateAcks() async throws {
        // Retransmission is far away: any DATA 2 after the duplicates would be caused by them.
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 20)) { $0.retransmitInterval = .seconds(60) }
        let client = try RawTFTPClient()
        client.send(.readRequest(TFTPRequest(filename: "file", options: [("blksize", "8")])), to: tftp.port)
        let tid = try #require(client.receive()).port
        client.send(.ack(block: 0), to: tid)
        guard case .data(1, _) = try #require(client.receive()).packet else { throw ToolFailure(message: "no DATA 1") }
        client.send(.ack(block: 1), to: tid)
        guard case .data(2, _) = try #require(client.receive()).packet else { throw ToolFailure(message: "no DATA 2") }
        for _ in 0..<3 { client.send(.ack(block: 1), to: tid) }
        client.send(.ack(block: 0), to: tid)
        client.send(.ack(block: 2), to: tid)
        let next = try #require(client.receive())
        guard case .data(3, let payload) = next.packet else { throw ToolFailure(message: "expected DATA 3, got \(next.packet)") }
        #expect(Array(payload.readableBytesView) == Array(16..<20))
        client.send(.ack(block: 3), to: tid)
        #expect(try await eventually { tftp.server.transfers == 0 })
        try await tftp.stop()
    }

    @Test("an unanswered block is sent again after the timeout, a bounded number of times; then the transfer ends")
    func retransmission() async throws {
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 600)) {
            $0.retransmitInterval = .milliseconds(100)
            $0.maxRetransmissions = 2
        }
        let client = try RawTFTPClient(timeout: 2)
        client.send(.readRequest(TFTPRequest(filename: "file")), to: tftp.port)
        var blocks: [UInt16] = []
        while let received = client.receive() {
            guard case .data(let block, let payload) = received.packet else { break }
            #expect(payload.readableBytes == 512)
            blocks.append(block)
        }
        #expect(blocks == [1, 1, 1], "sent once and twice again, then given up")
        #expect(try await eventually { tftp.server.transfers == 0 })
        try await tftp.stop()
    }

    @Test("more than 65535 blocks: numbers wrap to 0, windows of 64, and every byte arrives")
    func rollover() async throws {
        let size = 65_540 * 8 + 3
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: size))
        let client = try RawTFTPClient()
        client.send(.readRequest(TFTPRequest(filename: "file", options: [("blksize", "8"), ("windowsize", "64"), ("tsize", "0")])),
                    to: tftp.port)
        let oack = try #require(client.receive())
        #expect(oack.packet == .optionAck([("blksize", "8"), ("windowsize", "64"), ("tsize", String(size))]))
        client.send(.ack(block: 0), to: oack.port)
        var received: [UInt8] = [], expected: UInt16 = 1, numbers: [UInt16] = []
        while let next = client.receive(), case .data(let block, let payload) = next.packet {
            #expect(block == expected)
            if block != expected { break }
            received += payload.readableBytesView
            if (65_533...65_539).contains(received.count / 8) { numbers.append(block) }
            if payload.readableBytes < 8 || block % 64 == 0 { client.send(.ack(block: block), to: oack.port) }
            if payload.readableBytes < 8 { break }
            expected &+= 1
        }
        #expect(received == (0..<size).map { UInt8(truncatingIfNeeded: $0) })
        #expect(numbers.contains(65_535) && numbers.contains(0) && numbers.contains(1))
        try await tftp.stop()
    }

    @Test("one address holds at most maxTransfersPerAddress transfers, whatever its ports: one host cannot take every slot")
    func perAddressCap() async throws {
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 2000)) {
            $0.maxTransfersPerAddress = 2
            $0.retransmitInterval = .seconds(60)
        }
        let stallers = try (0..<2).map { _ in try RawTFTPClient() }
        for staller in stallers {
            staller.send(.readRequest(TFTPRequest(filename: "file")), to: tftp.port)
            #expect(staller.receive() != nil)
        }
        let third = try RawTFTPClient()
        third.send(.readRequest(TFTPRequest(filename: "file")), to: tftp.port)
        #expect(third.receive()?.packet == .error(code: 0, message: "server busy, try again"))
        #expect(tftp.server.transfers == 2)
        try await tftp.stop()
    }

    @Test("a write request, an unknown mode and too many transfers get error packets; a stalled client meets the deadline")
    func refusalsAndBounds() async throws {
        let tftp = try await RunningTFTP(folder: try Self.folder(bytes: 2000)) {
            $0.maxTransfers = 1
            $0.retransmitInterval = .milliseconds(50)
            $0.maxRetransmissions = 1000
            $0.transferDeadline = .milliseconds(500)
        }
        let writer = try RawTFTPClient()
        writer.send(.writeRequest(TFTPRequest(filename: "new")), to: tftp.port)
        guard case .error(2, _) = try #require(writer.receive()).packet else { throw ToolFailure(message: "WRQ not refused") }
        #expect(try await eventually { tftp.server.transfers == 0 })
        let mailer = try RawTFTPClient()
        mailer.send(.readRequest(TFTPRequest(filename: "file", mode: "mail")), to: tftp.port)
        guard case .error(4, _) = try #require(mailer.receive()).packet else { throw ToolFailure(message: "mail mode not refused") }
        #expect(try await eventually { tftp.server.transfers == 0 })

        // A client that never acknowledges holds the only slot; another is told the server is busy.
        let staller = try RawTFTPClient()
        staller.send(.readRequest(TFTPRequest(filename: "file")), to: tftp.port)
        #expect(staller.receive() != nil)
        let other = try RawTFTPClient()
        other.send(.readRequest(TFTPRequest(filename: "file")), to: tftp.port)
        let busy = try #require(other.receive())
        #expect(busy.packet == .error(code: 0, message: "server busy, try again") && busy.port == tftp.port)
        // Until the deadline: the stalled transfer ends with an error, and the slot is free again.
        var last: TFTPPacket?
        while let packet = staller.receive()?.packet {
            last = packet
            if case .error = packet { break }
        }
        guard case .error(0, let message) = last else { throw ToolFailure(message: "no deadline error: \(String(describing: last))") }
        #expect(message.contains("took longer"))
        #expect(try await eventually { tftp.server.transfers == 0 })
        try await tftp.stop()
    }

    @Test("names: configs by MAC in any folder, files otherwise, escapes refused")
    func names() {
        #expect(TFTPName("pxelinux.cfg/01-94-18-82-3a-5c-10") == .bootConfig(.pxelinux, mac: "94-18-82-3a-5c-10"))
        #expect(TFTPName("/bios/pxelinux.cfg/01-94-18-82-3a-5c-10") == .bootConfig(.pxelinux, mac: "94-18-82-3a-5c-10"))
        #expect(TFTPName("grub/grub.cfg-01-94-18-82-3a-5c-10") == .bootConfig(.grub, mac: "94-18-82-3a-5c-10"))
        #expect(TFTPName("grub.cfg-01-94-18-82-3a-5c-10") == .bootConfig(.grub, mac: "94-18-82-3a-5c-10"))
        #expect(TFTPName("pxelinux.cfg/01-not-a-mac") == .file("pxelinux.cfg/01-not-a-mac"))
        #expect(TFTPName("01-94-18-82-3a-5c-10") == .file("01-94-18-82-3a-5c-10"))
        #expect(TFTPName("pxelinux.cfg/default") == .file("pxelinux.cfg/default"))
        #expect(TFTPName("//./pxelinux.0") == .file("pxelinux.0"))
        #expect(TFTPName("a/../b") == .refused)
        #expect(TFTPName("..") == .refused)
        #expect(TFTPName("a\\b") == .refused)
        #expect(TFTPName("") == .refused)
        #expect(TFTPName("a/.git/config") == .notFound)
    }
}
