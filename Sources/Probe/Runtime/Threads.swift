import CBLAS

/// The number of threads the numeric kernels use (BLAS and the worker pool alike).
public enum ComputeThreads {
    /// Sets the thread count; every output records the value used.
    public static func set(_ n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
        WorkerPool.shared.resize(n)
    }

    public static var current: Int { WorkerPool.shared.threadCount }
}
