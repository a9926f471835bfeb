import CBLAS

/// The number of threads the numeric kernels use (BLAS and the worker pool alike).
public enum ComputeThreads {
    /// Sets the thread count; every output records the value used.
    public static func set(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
        WorkerPool.shared.resize(n)
    }

    public static var current: Int { WorkerPool.shared.threadCount }

    /// Runs `body` with BLAS limited to one thread (for BLAS calls made from several worker threads at once).
    static func withSingleThreadedBLAS(_ body: () -> Void) {
        let saved = openblas_get_num_threads()
        openblas_set_num_threads(1)
        body()
        openblas_set_num_threads(saved)
    }
}
