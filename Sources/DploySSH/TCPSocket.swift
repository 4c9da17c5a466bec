#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A non-blocking TCP connection made with getaddrinfo and connect, bounded by a deadline:
/// each address the name resolves to is tried in turn until one answers or time runs out.
/// (Name resolution itself is getaddrinfo's and not bounded; use addresses where it matters.)
enum TCPSocket {
    enum Failure: Error {
        case failed(String)
        case timedOut
    }

    /// The connected descriptor (non-blocking, close-on-exec); the caller closes it.
    static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw .failed("cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }

        var lastProblem = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family,
                            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastProblem = errorText(errno); continue }
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                lastProblem = errorText(errno)
                close(fd)
                continue
            }
            switch wait(fd, events: Int16(POLLOUT), until: deadline) {
            case .timedOut:
                close(fd)
                throw .timedOut
            case .failed(let code):
                lastProblem = errorText(code)
                close(fd)
                continue
            case .ready:
                var problem: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &length)
                if problem == 0 { return fd }
                lastProblem = errorText(problem)
                close(fd)
            }
        }
        throw .failed(lastProblem)
    }

    enum Wait { case ready, timedOut, failed(Int32) }

    /// Waits until `fd` is ready for `events` or the deadline passes (EINTR is retried).
    static func wait(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Wait {
        while true {
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero { return .timedOut }
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let count = poll(&entry, 1, milliseconds)
            if count > 0 { return .ready }
            if count < 0, errno != EINTR { return .failed(errno) }
        }
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
