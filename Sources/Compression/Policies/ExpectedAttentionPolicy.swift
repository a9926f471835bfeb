import CBLAS
import Foundation
import Probe

/// `expected` (Expected Attention): the prompt's pre-RoPE queries are summarised per query head by their
/// mean μ and covariance Σ; rotated to the next `F` future positions (the average rotation R̄ of positions
/// n … n+F−1: μ' = R̄μ, Σ' = R̄ΣR̄ᵀ) they predict the attention a future query gives key k:
/// softmax over the keys of `μ'·k/√d + kᵀΣ'k/(2d)`, averaged over the group's query heads, times the
/// key's value norm; the first `sinks` keys are always kept. Like DapQ it scores keys from future positions,
/// but from statistics instead of queries.
public struct ExpectedAttentionPolicy: EvictionPolicy {
    public let name = "expected"
    public let settings: CompressionSettings
    public init(settings: CompressionSettings) { self.settings = settings }

    public var needs: PromptEvidence.Needs { PromptEvidence.Needs(queryStatisticsFrom: settings.expectedSinks) }

    public func check(promptLength n: Int) throws {
        guard n > settings.expectedSinks else {
            throw ProbeError("policy expected keeps \(settings.expectedSinks) sink tokens but the prompt has only \(n); use a smaller --expected-sinks")
        }
    }

    /// R̄ as a row-major `[d, d]` matrix: the mean over positions of the model's RoPE rotation.
    static func averageRotation(model: LanguageModel, from first: Int, count: Int) -> [Double] {
        let d = model.config.dHead
        var mean = [Double](repeating: 0, count: d * d)
        var basis = [Float](repeating: 0, count: d * d)
        for t in first..<(first + count) {
            for i in 0..<(d * d) { basis[i] = 0 }
            for k in 0..<d { basis[k * d + k] = 1 }
            // Row k of `basis` is R(t)·e_k, i.e. column k of R(t).
            basis.withUnsafeMutableBufferPointer { model.rotate($0.baseAddress!, heads: d, position: t) }
            for k in 0..<d {
                for i in 0..<d { mean[i * d + k] += Double(basis[k * d + i]) / Double(count) }
            }
        }
        return mean
    }

    public func scores(_ evidence: PromptEvidence) throws -> KeyScores? {
        guard let stats = evidence.queryStatistics else { preconditionFailure("expected needs the prompt's query statistics") }
        let model = evidence.model, c = model.config, d = c.dHead, n = evidence.promptLength
        let sinks = min(settings.expectedSinks, n - 1), m = n - sinks
        let rotation = Self.averageRotation(model: model, from: n, count: settings.expectedFuturePositions)
        var values = [Double](repeating: 0, count: c.nLayers * c.nKVHeads * n)
        var keys = [Double](repeating: 0, count: m * d), projected = [Double](repeating: 0, count: m * d)
        var logits = [Double](repeating: 0, count: m)
        for l in 0..<c.nLayers {
            for g in 0..<c.nKVHeads {
                let K = evidence.cache.keys(layer: l, head: g, rows: sinks..<n)
                for i in 0..<(m * d) { keys[i] = Double(K[i]) }
                var groupMean = [Double](repeating: 0, count: m)
                for member in 0..<c.groupSize {
                    let h = g * c.groupSize + member
                    let mu = matrixVector(rotation, stats.mean(layer: l, head: h), d: d)
                    for j in 0..<m { logits[j] = dot(mu, keys, offset: j * d, d: d) / Double(d).squareRoot() }
                    if settings.expectedCovariance {
                        let sigma = rotated(stats.covariance(layer: l, head: h), by: rotation, d: d)
                        // projected = K Σ'; then the row-wise dot with K gives kᵀΣ'k.
                        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(d), Int32(d), 1, keys, Int32(d),
                                    sigma, Int32(d), 0, &projected, Int32(d))
                        for j in 0..<m { logits[j] += dot(Array(projected[(j * d)..<(j * d + d)]), keys, offset: j * d, d: d) / (2 * Double(d)) }
                    }
                    let largest = logits.max() ?? 0
                    var total = 0.0
                    for j in 0..<m { logits[j] = Foundation.exp(logits[j] - largest); total += logits[j] }
                    for j in 0..<m { groupMean[j] += logits[j] / total / Double(c.groupSize) }
                }
                let V = evidence.cache.values(layer: l, head: g, rows: sinks..<n)
                let base = (l * c.nKVHeads + g) * n
                var best = -Double.infinity
                for j in 0..<m {
                    var score = groupMean[j] + settings.expectedEpsilon
                    if settings.expectedValueNorm {
                        var norm = 0.0
                        for i in 0..<d { norm += Double(V[j * d + i]) * Double(V[j * d + i]) }
                        score *= norm.squareRoot()
                    }
                    values[base + sinks + j] = score
                    best = max(best, score)
                }
                for j in 0..<sinks { values[base + j] = best }
            }
        }
        return KeyScores(nLayers: c.nLayers, nKVHeads: c.nKVHeads, promptLength: n, values: values)
    }

    public func keep(_ scores: KeyScores?, budget: Int, evidence: PromptEvidence) throws -> KeptEntries {
        keepTop(scores, budget: budget, recent: 0, adaptiveFloor: settings.headFloor, evidence: evidence)
    }

    private func matrixVector(_ a: [Double], _ x: [Double], d: Int) -> [Double] {
        (0..<d).map { i in dot(x, a, offset: i * d, d: d) }
    }

    /// R Σ Rᵀ.
    private func rotated(_ sigma: [Double], by r: [Double], d: Int) -> [Double] {
        var rs = [Double](repeating: 0, count: d * d), out = [Double](repeating: 0, count: d * d)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(d), Int32(d), Int32(d), 1, r, Int32(d), sigma, Int32(d),
                    0, &rs, Int32(d))
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(d), Int32(d), Int32(d), 1, rs, Int32(d), r, Int32(d),
                    0, &out, Int32(d))
        return out
    }

    private func dot(_ x: [Double], _ y: [Double], offset: Int, d: Int) -> Double {
        var s = 0.0
        for i in 0..<d { s += x[i] * y[offset + i] }
        return s
    }
}
