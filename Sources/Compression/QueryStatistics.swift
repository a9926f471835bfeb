import CBLAS
import Probe

/// Mean and covariance of the prompt's pre-RoPE queries per (layer, query head): what Expected Attention
/// needs to predict the queries of future positions. Filled batch by batch during prefill
/// (`PrefillObserver`), from the post-RoPE queries the forward pass shows, rotated back.
public final class QueryStatistics {
    public let nLayers: Int, nHeads: Int, dHead: Int
    /// Queries at positions below `firstPosition` are left out (kvpress leaves out its sink tokens).
    public let firstPosition: Int
    public private(set) var count = 0
    /// `[L, H, d]` sums and `[L, H, d, d]` sums of outer products.
    private var sums: [Double]
    private var outerSums: [Float]
    private var rows: [Float] = []

    public init(config: ModelConfig, firstPosition: Int) {
        nLayers = config.nLayers
        nHeads = config.nHeads
        dHead = config.dHead
        self.firstPosition = firstPosition
        sums = [Double](repeating: 0, count: nLayers * nHeads * dHead)
        outerSums = [Float](repeating: 0, count: nLayers * nHeads * dHead * dHead)
    }

    /// Adds the batch's queries of `layer` (`[T, H, d]`, post-RoPE at `positions`).
    func add(layer: Int, positions: [Int], queries: UnsafePointer<Float>, model: LanguageModel) {
        let kept = positions.indices.filter { positions[$0] >= firstPosition }
        guard !kept.isEmpty else { return }
        let rowWidth = nHeads * dHead, d = dHead
        if rows.count < kept.count * rowWidth { rows = [Float](repeating: 0, count: kept.count * rowWidth) }
        rows.withUnsafeMutableBufferPointer { r in
            for (i, t) in kept.enumerated() {
                let row = r.baseAddress! + i * rowWidth
                row.update(from: queries + t * rowWidth, count: rowWidth)
                model.rotate(row, heads: nHeads, position: positions[t], inverse: true)
                for j in 0..<rowWidth { sums[layer * rowWidth + j] += Double(row[j]) }
            }
            outerSums.withUnsafeMutableBufferPointer { o in
                for h in 0..<nHeads {
                    let x = r.baseAddress! + h * d
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(d), Int32(d), Int32(kept.count), 1,
                                x, Int32(rowWidth), x, Int32(rowWidth), 1, o.baseAddress! + (layer * nHeads + h) * d * d, Int32(d))
                }
            }
        }
        if layer == 0 { count += kept.count }
    }

    /// The mean query of (layer, head), `[d]`.
    public func mean(layer: Int, head: Int) -> [Double] {
        let base = (layer * nHeads + head) * dHead
        return (0..<dHead).map { sums[base + $0] / Double(max(count, 1)) }
    }

    /// The covariance of (layer, head), `[d, d]` row-major: E[qqᵀ] − μμᵀ (population form, divided by the count).
    public func covariance(layer: Int, head: Int) -> [Double] {
        let mu = mean(layer: layer, head: head), d = dHead
        let base = (layer * nHeads + head) * d * d
        var result = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d { result[i * d + j] = Double(outerSums[base + i * d + j]) / Double(max(count, 1)) - mu[i] * mu[j] }
        }
        return result
    }
}
