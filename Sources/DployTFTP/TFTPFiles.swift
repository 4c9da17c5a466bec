import DployRender
import DploySpec
import Foundation
import NIOCore

/// What a read request names, as the server decides it: a loader's config, answered by the
/// boot decider; a file below the served folder; or nothing it will serve.
enum TFTPName: Equatable {
    /// `…/pxelinux.cfg/01-<mac>` or `…/grub.cfg-01-<mac>`, with the MAC as written.
    case bootConfig(BootLoader, mac: String)
    /// A path relative to the folder, checked for `..`, hidden names and backslashes.
    case file(String)
    /// A name that is not found, whatever the folder holds: a hidden one.
    case notFound
    /// A name that tries to leave the folder or hide what it is (`..`, NUL, a backslash).
    case refused

    /// Leading slashes are dropped (GRUB and some PXE ROMs send them); `.` and empty
    /// components are skipped. pxelinux asks for `pxelinux.cfg/01-<mac>` next to pxelinux.0,
    /// and GRUB for `grub.cfg-01-<mac>` under its prefix (`grub-mknetdir`'s is
    /// `/boot/grub`), so both are recognised in any folder; any other name under
    /// `pxelinux.cfg/` (`default`, a UUID, an address) is a file.
    init(_ filename: String) {
        guard !filename.isEmpty, !filename.contains("\0"), !filename.contains("\\") else {
            self = .refused
            return
        }
        let components = filename.split(separator: "/").filter { $0 != "." }
        guard !components.contains("..") else {
            self = .refused
            return
        }
        guard let name = components.last, !components.contains(where: { $0.hasPrefix(".") }) else {
            self = .notFound
            return
        }
        if components.count >= 2, components[components.count - 2] == "pxelinux.cfg",
           let mac = BootPaths.configMAC(String(name), loader: .pxelinux), MACAddress(mac) != nil {
            self = .bootConfig(.pxelinux, mac: mac)
        } else if let mac = BootPaths.configMAC(String(name), loader: .grub), MACAddress(mac) != nil {
            self = .bootConfig(.grub, mac: mac)
        } else {
            self = .file(components.joined(separator: "/"))
        }
    }
}

/// What a transfer sends: a config decided for this request, or a file read a window at a
/// time.
enum TFTPSource: Sendable {
    case memory(ByteBuffer)
    case file(TFTPFile)

    var size: Int {
        switch self {
        case .memory(let buffer): buffer.readableBytes
        case .file(let file): file.size
        }
    }
}

/// An open regular file, read with pread(2) on the server's thread pool; closed when the
/// last transfer holding it ends. It never reads more than it is asked for, so a kernel of
/// tens of megabytes costs one window of memory.
final class TFTPFile: Sendable {
    let descriptor: Int32
    let size: Int

    /// Opens `realPath` (already confined); nil unless it is a regular file.
    init?(realPath: String) {
        let descriptor = open(realPath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard descriptor >= 0 else { return nil }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
        size = Int(status.st_size)
    }

    deinit { close(descriptor) }

    /// Up to `count` bytes at `offset`: fewer only at the end of the file. Blocks the thread.
    func read(offset: Int, count: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        var buffer = allocator.buffer(capacity: count)
        let read = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            var done = 0
            while done < count {
                let n = pread(descriptor, bytes.baseAddress! + done, count - done, off_t(offset + done))
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw IOError(errnoCode: errno, reason: "pread") }
                if n == 0 { break }
                done += n
            }
            return done
        }
        _ = read
        return buffer
    }
}
