#if canImport(Glibc)
import Glibc
#endif

/// The CPU priority of dploy's own threads.
///
/// Boot answers are short and a machine waits on each; a reconcile, a BMC job's poll or an
/// SSH task can wait. On a controller with few cores, 64 BMC job workers waking together,
/// or a run of a hundred milliseconds, would otherwise take their fair share of the CPU
/// from the threads that answer boots (bench/rollout.py measured `/boot.ipxe` p99 at 5 to
/// 6x its idle figure during a rollout on 2 cores). At a higher nice value they still get
/// every core nobody else wants.
///
/// Linux keeps a nice value per thread, and a new thread starts with its creator's: only
/// threads that start no thread that must keep up (a lease's renewal) are lowered.
public enum ThreadPriority {
    /// Added to the process's nice value for background work: at 10 the kernel weighs a
    /// thread 110 against a default one's 1024.
    public static let backgroundNiceness: Int32 = 10

    /// The calling thread runs as background work: the process's nice value plus
    /// `backgroundNiceness`. One way only: without privilege a thread cannot lower its nice
    /// value again, so a thread that starts others that must keep up stays as it is.
    ///
    /// `who` 0 is the calling thread (not the process, as POSIX would have it), and the
    /// process's value is its main thread's, whose id is the process id. Should it fail (a
    /// seccomp filter, say), the thread keeps its priority.
    public static func runCurrentThreadInBackground() {
        #if canImport(Glibc)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        _ = setpriority(which, 0, getpriority(which, id_t(getpid())) + backgroundNiceness)
        #endif
    }
}
