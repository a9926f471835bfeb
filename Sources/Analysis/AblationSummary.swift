import Foundation

/// What the summary of one prompt keeps: the metrics of every variant (not the queries or importance).
public struct PromptMetrics: Sendable {
    public let capturePath: String
    public let promptLength: Int
    public let steps: Int
    public let kValues: [Int]
    public let headlineIndex: Int
    public let variants: [(variant: AblationVariant, metrics: VariantMetrics)]

    public init(_ ablation: PromptAblation) {
        capturePath = ablation.capturePath
        promptLength = ablation.promptLength
        steps = ablation.steps
        kValues = ablation.kValues
        headlineIndex = ablation.headlineIndex
        variants = ablation.variants.map { ($0.variant, $0.metrics) }
    }

    public func metrics(_ variant: AblationVariant) -> VariantMetrics? { variants.first { $0.variant == variant }?.metrics }
}

/// One row of the `summary` table: a variant's metrics averaged over layers and heads, for one prompt or
/// (prompt `all`) averaged over prompts with 95% intervals.
public struct SummaryRow: Sendable, Equatable {
    /// The capture's file name, or `all` for the mean over prompts.
    public var prompt: String
    /// The prompt's index in the run (the `prompt` dimension), −1 for `all`.
    public var promptIndex: Int
    public var variant: String
    public var content: String
    public var position: String
    /// `pseudo` or `reference`.
    public var kind: String
    /// `fixed` (one budget of the list) or `3%` (each prompt's headline budget, the list entry nearest 3% of n).
    public var kRule: String
    /// The budget as listed, and as used (clipped to n); −1 where prompts used different budgets.
    public var k: Int
    public var kUsed: Int
    public var prompts: Int
    public var topKRecall: Double
    public var massRecall: Double
    public var overlap: Double
    public var queryCosine: Double
    /// Half-widths of the 95% t-intervals across prompts (NaN for a single prompt's row or one prompt).
    public var topKRecallCI95 = Double.nan
    public var massRecallCI95 = Double.nan
    public var overlapCI95 = Double.nan
    public var queryCosineCI95 = Double.nan
    /// Answer-level metrics (NaN without an answer span): span recall over layers and KV heads, over the
    /// retrieval KV heads, and the mean over layers of the minimum over KV heads; `all` rows average the
    /// `spanPrompts` prompts that have a span.
    public var spanPrompts = 0
    public var spanRecall = Double.nan
    public var spanRecallRetrieval = Double.nan
    public var spanRecallLayerMin = Double.nan
    public var spanRecallCI95 = Double.nan
    public var spanRecallRetrievalCI95 = Double.nan
    public var spanRecallLayerMinCI95 = Double.nan
}

/// The summary table and the aggregates across prompts.
public enum AblationSummary {
    /// Rows per prompt (every budget, then the headline `3%` rule), then the `all` rows: means over prompts.
    /// `retrievalKVHeads` (`[L, G]`) marks the retrieval heads of `span_recall_retrieval` (nil: NaN).
    public static func rows(_ prompts: [PromptMetrics], retrievalKVHeads: [Bool]? = nil) -> [SummaryRow] {
        guard let first = prompts.first else { return [] }
        var rows: [SummaryRow] = []
        for (pi, prompt) in prompts.enumerated() {
            let name = URL(fileURLWithPath: prompt.capturePath).lastPathComponent
            for (variant, m) in prompt.variants {
                func row(_ ki: Int, _ rule: String) -> SummaryRow {
                    var row = SummaryRow(prompt: name, promptIndex: pi, variant: variant.name, content: variant.contentName, position: variant.positionName,
                                         kind: variant.kind, kRule: rule, k: prompt.kValues[ki], kUsed: min(prompt.kValues[ki], prompt.promptLength),
                                         prompts: 1, topKRecall: m.meanTopKRecall(ki), massRecall: m.meanMassRecall(ki),
                                         overlap: m.meanOverlap, queryCosine: m.meanQueryCosine)
                    if m.spanRecall != nil {
                        row.spanPrompts = 1
                        row.spanRecall = m.meanSpanRecall(ki)
                        row.spanRecallRetrieval = retrievalKVHeads.map { m.retrievalSpanRecall(ki, heads: $0) } ?? .nan
                        row.spanRecallLayerMin = m.layerMinimumSpanRecall(ki)
                    }
                    return row
                }
                for ki in prompt.kValues.indices { rows.append(row(ki, "fixed")) }
                rows.append(row(prompt.headlineIndex, "3%"))
            }
        }
        for (variant, _) in first.variants {
            let per = prompts.compactMap { p in p.metrics(variant).map { (p, $0) } }
            guard per.count == prompts.count else { continue }
            for ki in first.kValues.indices {
                rows.append(aggregate(variant, per.map { ($0.1, ki, min($0.0.kValues[ki], $0.0.promptLength)) },
                                      k: first.kValues[ki], rule: "fixed", retrievalKVHeads: retrievalKVHeads))
            }
            let headline = per.map { ($0.1, $0.0.headlineIndex, min($0.0.kValues[$0.0.headlineIndex], $0.0.promptLength)) }
            let ks = Set(per.map { $0.0.kValues[$0.0.headlineIndex] })
            rows.append(aggregate(variant, headline, k: ks.count == 1 ? ks.first! : -1, rule: "3%", retrievalKVHeads: retrievalKVHeads))
        }
        return rows
    }

    private static func aggregate(_ variant: AblationVariant, _ items: [(VariantMetrics, Int, Int)], k: Int, rule: String,
                                  retrievalKVHeads: [Bool]?) -> SummaryRow {
        let topK = items.map { $0.0.meanTopKRecall($0.1) }, mass = items.map { $0.0.meanMassRecall($0.1) }
        let overlap = items.map(\.0.meanOverlap), cosine = items.map(\.0.meanQueryCosine)
        let used = Set(items.map(\.2))
        var row = SummaryRow(prompt: "all", promptIndex: -1, variant: variant.name, content: variant.contentName, position: variant.positionName,
                          kind: variant.kind, kRule: rule, k: k, kUsed: used.count == 1 ? used.first! : -1, prompts: items.count,
                          topKRecall: Statistics.mean(topK), massRecall: Statistics.mean(mass), overlap: Statistics.mean(overlap),
                          queryCosine: Statistics.mean(cosine), topKRecallCI95: Statistics.halfWidth95(topK),
                          massRecallCI95: Statistics.halfWidth95(mass), overlapCI95: Statistics.halfWidth95(overlap),
                          queryCosineCI95: Statistics.halfWidth95(cosine))
        let spans = items.filter { $0.0.spanRecall != nil }
        row.spanPrompts = spans.count
        if !spans.isEmpty {
            let span = spans.map { $0.0.meanSpanRecall($0.1) }, layerMin = spans.map { $0.0.layerMinimumSpanRecall($0.1) }
            (row.spanRecall, row.spanRecallCI95) = (Statistics.mean(span), Statistics.halfWidth95(span))
            (row.spanRecallLayerMin, row.spanRecallLayerMinCI95) = (Statistics.mean(layerMin), Statistics.halfWidth95(layerMin))
            if let heads = retrievalKVHeads {
                let retrieval = spans.map { $0.0.retrievalSpanRecall($0.1, heads: heads) }
                (row.spanRecallRetrieval, row.spanRecallRetrievalCI95) = (Statistics.mean(retrieval), Statistics.halfWidth95(retrieval))
            }
        }
        return row
    }

    /// Element-wise mean and 95% half-width across prompts of a per-prompt metric array (all the same shape).
    public static func aggregateArrays(_ arrays: [[Double]]) -> (mean: [Double], ci95: [Double]) {
        guard let first = arrays.first else { return ([], []) }
        var mean = [Double](repeating: 0, count: first.count), ci = mean
        for i in first.indices {
            let column = arrays.map { $0[i] }
            mean[i] = Statistics.mean(column)
            ci[i] = Statistics.halfWidth95(column)
        }
        return (mean, ci)
    }
}

/// Means and Student-t 95% intervals.
public enum Statistics {
    public static func mean(_ x: [Double]) -> Double { x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count) }

    /// Sample standard deviation (divisor m − 1).
    public static func standardDeviation(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    /// Half-width of the two-sided 95% t-interval of the mean: t(0.975, m−1) · s / √m; NaN for m < 2.
    public static func halfWidth95(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        return tQuantile975(degreesOfFreedom: x.count - 1) * standardDeviation(x) / Double(x.count).squareRoot()
    }

    /// The 0.975 quantile of Student's t: a table for 1…30 degrees of freedom, beyond it the Cornish–Fisher
    /// expansion around the normal quantile (error below 1e-4).
    public static func tQuantile975(degreesOfFreedom df: Int) -> Double {
        precondition(df >= 1)
        let table: [Double] = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
                               2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
                               2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
                               2.048407, 2.045230, 2.042272]
        if df <= table.count { return table[df - 1] }
        let z = 1.959964, v = Double(df)
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z
        return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v)
    }
}
