import Foundation
import Synchronization

/// Persistent worker threads for the forward pass's parallel loops. A call hands each thread one part of the
/// work and returns when all parts are done; idle workers spin briefly, then sleep on a condition variable,
/// so that a decoding step's hundreds of short parallel sections cost microseconds, not thread wake-ups.
public final class WorkerPool: @unchecked Sendable {
    /// Threads taking part in a call, the caller included.
    public private(set) var threadCount: Int
    private var workers: [Thread] = []
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    /// The next chunk of a `forEachChunk` call.
    private let cursor = Atomic<Int>(0)
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var job: ((Int) -> Void)?

    /// The pool of the process; its size follows `ComputeThreads.set`.
    public static let shared = WorkerPool()

    private init() {
        threadCount = 1
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    /// Grows the pool to `n` threads (it never shrinks; extra workers stay asleep).
    func resize(_ n: Int) {
        let wanted = max(1, n)
        while workers.count < wanted - 1 {
            let index = workers.count + 1
            let thread = Thread { [unowned self] in self.workerLoop(index: index) }
            thread.stackSize = 1 << 20
            thread.start()
            workers.append(thread)
        }
        threadCount = wanted
    }

    /// Runs `body(part)` for `part` in `0..<threadCount`, part 0 on the calling thread.
    public func run(_ body: (Int) -> Void) {
        let n = threadCount
        if n == 1 { body(0); return }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            pending.store(n - 1, ordering: .releasing)
            pthread_mutex_lock(&mutex)
            generation.add(1, ordering: .releasing)
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
            escaping(0)
            while pending.load(ordering: .acquiring) != 0 { spinPause() }
            job = nil
        }
    }

    /// Splits `0..<count` into `threadCount` contiguous ranges and runs `body` on each, in parallel.
    public func forEachRange(_ count: Int, minimumPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
        let n = threadCount
        if n == 1 || count < 2 * minimumPerThread { body(0..<count); return }
        run { part in
            let lo = count * part / n, hi = count * (part + 1) / n
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Splits `0..<count` into chunks of `chunk` (the last one shorter) and hands them out one at a time to
    /// whichever thread is free, so that a thread that starts late or runs slower (a worker waking up, memory
    /// bandwidth shared unevenly) takes fewer: for memory-bound loops such as a decoding step's matrix-vector
    /// products. Every chunk is run exactly once; which thread runs it varies.
    public func forEachChunk(_ count: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
        let chunk = max(1, chunk)
        if threadCount == 1 || count <= chunk { body(0..<count); return }
        cursor.store(0, ordering: .relaxed)
        run { _ in
            while true {
                let lo = cursor.add(chunk, ordering: .relaxed).oldValue
                if lo >= count { return }
                body(lo..<min(count, lo + chunk))
            }
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < 20_000 { spinPause(); continue }
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(&condition, &mutex) }
                pthread_mutex_unlock(&mutex)
            }
            seen = generation.load(ordering: .acquiring)
            if index < threadCount, let job { job(index) }
            if index < threadCount { pending.subtract(1, ordering: .releasing) }
        }
    }

    @inline(__always) private func spinPause() {
        #if arch(x86_64)
        _ = 0  // a plain busy loop; the acquiring load above keeps it honest
        #endif
    }
}
