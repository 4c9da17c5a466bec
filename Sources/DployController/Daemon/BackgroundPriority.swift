#if canImport(Glibc)
import Glibc
#endif

/// The CPU priority of the daemon's background threads: the reconcile loop and BMC watch
/// (`BackgroundExecutor`) and the BMC job workers.
///
/// Boot answers are short and a machine waits on each; a reconcile or a BMC job's poll can
/// wait. On a controller with few cores, 64 job workers waking together, or a run of a
/// hundred milliseconds, would otherwise take their fair share of the CPU from the two
/// threads that answer boots (the bench measured `/boot.ipxe` p99 at 5 to 6x its idle
/// figure during a rollout on 2 cores). With a higher nice value they still get every core
/// nobody else wants.
enum BackgroundPriority {
    /// Added to the thread's nice value: at 10 the kernel weighs it 110 against a default
    /// thread's 1024.
    static let niceness: Int32 = 10

    /// Sets the calling thread's nice value to the process's plus `niceness` (a thread made by
    /// another background thread starts with that one's, so it is not added twice). Linux
    /// keeps a nice value per thread: `who` 0 is the calling thread, and the process's is its
    /// main thread's, whose id is the process id. Raising it needs no privilege; should it
    /// fail (a seccomp filter, say), the thread runs at normal priority.
    static func lowerCurrentThread() {
        #if canImport(Glibc)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        _ = setpriority(which, 0, getpriority(which, id_t(getpid())) + niceness)
        #endif
    }
}
