/// Exit codes for commands a signal killed: 128 + the signal's number, as shells report it.
/// SSH names signals without "SIG" (RFC 4254 6.10); numbers are Linux's.
enum SignalNumbers {
    static let numbers: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    ]

    /// 128 + n for a known signal name, -1 for one this side does not know.
    static func exitCode(forSignal name: String) -> Int32 {
        numbers[name].map { 128 + $0 } ?? -1
    }
}
