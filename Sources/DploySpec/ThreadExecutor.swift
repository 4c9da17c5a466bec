import Foundation

/// A task executor with one thread of its own: the daemon's reconcile loop and BMC watch
/// run on one each (`withTaskExecutorPreference`), not on Swift's cooperative pool. So does
/// each test (`OwnThread`, in the test support).
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

    /// - Parameter name: the thread's name, as `top -H` and `/proc/PID/task/*/comm` show it
    ///   (`Thread.nameCurrent`: at most 15 bytes).
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
    /// Names the calling thread as the kernel shows it (`top -H`, `/proc/PID/task/*/comm`),
    /// cut to the 15 bytes Linux keeps, at a character's end.
    ///
    /// Foundation's own ways do not reliably get there: a name given before `start()` never
    /// reaches the kernel, and `Thread.current.name = …` from inside the thread does only
    /// once its creator has recorded the thread's handle, which a thread just started may
    /// run before (about one test run in twenty-five saw a ThreadExecutor thread still named
    /// as its creator). This writes `/proc/thread-self/comm`, as pthread_setname_np does,
    /// which Swift's Glibc module does not export. Elsewhere the write fails and Foundation's
    /// setter is all there is.
    public static func nameCurrent(_ name: String) {
        var kept = name
        while kept.utf8.count > 15 { kept.removeLast() }
        _ = try? Data(kept.utf8).write(to: URL(fileURLWithPath: "/proc/thread-self/comm"))
        Thread.current.name = kept
    }
}
