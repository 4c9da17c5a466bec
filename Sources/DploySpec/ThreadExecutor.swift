import Foundation

/// A task executor with one thread of its own: the daemon's reconcile loop and BMC watch
/// run on one each (`withTaskExecutorPreference`), not on Swift's cooperative pool. Tests
/// that block run on one each too (`OwnThread`, in the test support).
///
/// Why: that pool has one thread per core, and it is where Hummingbird answers boots. A
/// reconcile takes tens to hundreds of milliseconds of CPU (during a rollout one runs about
/// every second), and on a 2-core controller holding one of two pool threads for that long
/// halves the boot server and stretches its tail. On a thread of its own the kernel shares
/// the cores between them instead.
///
/// Both keep the process's priority: threads they start inherit it, and some must keep up
/// (a PostgreSQL lease's renewal), which a thread cannot regain once lowered without
/// privilege (`ThreadPriority`).
///
/// Jobs run in the order they were enqueued, one at a time. The thread ends after `finish()`
/// once nothing is queued; a job enqueued after that runs on Swift's pool, so no task that
/// still prefers this executor is left waiting.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    /// Guarded by `condition`, like `finishing` and `ended`.
    private var queue: [UnownedJob] = []
    private var finishing = false
    private var ended = false

    /// - Parameter name: the thread's name, as `top -H` and `/proc/PID/task/*/comm` show it:
    ///   at most 15 bytes, as Linux refuses longer ones (the thread keeps its creator's).
    public init(name: String) {
        let thread = Thread { [self] in
            Thread.nameCurrent(name)
            runJobs()
        }
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        if ended {
            condition.unlock()
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once it has run everything queued.
    public func finish() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while queue.isEmpty && !finishing { condition.wait() }
            if queue.isEmpty {
                ended = true
                condition.unlock()
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

extension Thread {
    /// Names the calling thread, as the kernel shows it (`top -H`, `/proc/PID/task/*/comm`):
    /// at most 15 bytes, as Linux refuses longer ones.
    ///
    /// Foundation's `Thread.current.name = …` passes the name to the kernel only once the
    /// thread's creator has recorded the thread's handle, and a thread just started may get
    /// there first: about one test run in twenty-five saw a ThreadExecutor's thread still
    /// named as its creator.
    public static func nameCurrent(_ name: String) {
        // What pthread_setname_np does, which Swift's Glibc module does not export.
        _ = try? Data(name.utf8.prefix(15)).write(to: URL(fileURLWithPath: "/proc/thread-self/comm"))
        Thread.current.name = name
    }
}
