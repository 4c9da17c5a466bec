import Foundation

/// Polls `condition` until it holds, at most `seconds`: waiting on a signal the test can
/// see (a file, a log line, an answer), never a sleep that hopes something happened.
/// Returns whether it held; the bound is only there so a broken build fails, not hangs.
public func eventually(_ seconds: Double = 20, every interval: Duration = .milliseconds(50),
                       _ condition: () throws -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + .milliseconds(Int(seconds * 1000))
    while clock.now < deadline {
        if try condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try condition()
}

/// The same, for code that cannot suspend (a fixture's init): blocks the thread.
public func eventuallyBlocking(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + .milliseconds(Int(seconds * 1000))
    while clock.now < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

/// The port a server printed after binding port 0: on the first line of `text` containing
/// `marker` (Hummingbird's "listening on", werkzeug's "Running on"), the digits after
/// `host:`. A test that lets its server bind port 0 and reads the port back never uses a
/// port the server does not hold.
public func reportedPort(in text: String, line marker: String, host: String = "127.0.0.1") -> Int? {
    guard let line = text.split(separator: "\n").first(where: { $0.contains(marker) }),
          let at = line.range(of: marker), let range = line[at.upperBound...].range(of: host + ":") else { return nil }
    return Int(line[range.upperBound...].prefix { $0.isNumber })
}
