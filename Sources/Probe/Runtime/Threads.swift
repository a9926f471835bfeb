import CBLAS

/// The number of threads the numeric kernels use. All parallel work runs on the worker pool, which splits
/// matrix products itself; BLAS stays single-threaded, so that its own threads never compete with the pool's
/// for the cores (switching BLAS between one and n threads around each call cost more than it saved).
public enum ComputeThreads {
    /// Sets the thread count; every output records the value used.
    public static func set(_ n: Int) {
        openblas_set_num_threads(1)
        WorkerPool.shared.resize(n)
    }

    public static var current: Int { WorkerPool.shared.threadCount }

    /// The kernels OpenBLAS runs ("SkylakeX", "Haswell", …), chosen again for this CPU before main where OpenBLAS
    /// fell back to its generic ones (`csimd_fit_blas_core`; `DAPQ_PROBE_BLAS_CORE=openblas` keeps OpenBLAS's choice).
    public static var blasCore: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }
}
