import Foundation
import Probe

/// Facts about an ablation run that the file records besides the results: the model file, arithmetic,
/// threads and command line, as every output file records them.
public typealias AblationMetadata = ModelProvenance

/// Writes an ablation in the schema of docs/schema.md: `schema = "dapq-probe/ablation"`, version 3 (version 2 held
/// the summary as one compound table and named the variants' attributes `content` and `position`; version 1 had no
/// answer-level metrics).
///
/// One capture: at the root, `variants/<name>/` per variant (`<content>_<position>`, `window`, `lookahead`,
/// `truth`) holding
/// - `tokens`, `positions`, `visible_prompt`, `visible_own` [query] int32: each query row's token, absolute
///   position, and how many prompt keys and own keys (the set's rows `0…`) its softmax runs over;
/// - `rot_q` [layer, head, query, d_head], `rot_k` [layer, kv_head, query, d_head]: the rows' post-RoPE queries
///   and keys (not for `truth`: its rows are the capture's `decode/rot_q`, `decode/rot_k`);
/// - `importance` [layer, kv_head, position]: P, the mean softmax weight on each prompt key;
/// - `top_k_recall`, `mass_recall` [layer, kv_head, k], `overlap` [layer, kv_head], `query_cosine` [layer, head];
/// - when the capture has `prompt/answer_span`: `span_recall` [layer, kv_head, k], `span_recall_layer_min` [layer, k]
///   (minimum over a layer's KV heads), `span_recall_retrieval` [k] (mean over the retrieval KV heads).
/// At the root, `retrieval_score` [layer, head] (the captures' scores pooled, `RetrievalHeads`) and
/// `retrieval_kv_heads` [layer, kv_head] (uint8: the KV heads that count as retrieval heads).
/// Several captures: the same under `prompts/<i>/` (i = 000, 001, … in the order given; `importance` padded
/// with NaN past that prompt's n), and at the root `variants/<name>/` holds the metric arrays averaged over
/// prompts with `<metric>_ci95` (95% t-interval half-widths).
/// `summary/` holds the summary table (`SummaryRow`) as one 1-D dataset per column over `summary_row` (strings,
/// int64, float64: pandas and xarray read it without decoding). A variant group's attributes are `kind`,
/// `pseudo_content`, `pseudo_position` (no attribute is named like a dimension). Dimension scales: `layer`,
/// `head`, `kv_head`, `k` (budgets as listed), `position`, `query` (w rows), `lookahead_query`, `d_head`, `prompt`,
/// `summary_row`; string dataset `captures` [prompt].
///
/// The file is written under a temporary name (`AtomicOutputFile`); `complete = 1` is written last.
public final class AblationWriter {
    public static let schema = "dapq-probe/ablation"
    public static let schemaVersion = 3

    private let output: AtomicOutputFile
    private let file: HDF5File
    private let options: AblationOptions
    private let headers: [CaptureFile.Header]
    private let maxPromptLength: Int
    private var single: Bool { headers.count == 1 }
    /// The run's retrieval heads (from the captures' `decode/retrieval_score`).
    public let retrievalHeads: RetrievalHeads

    /// Creates the file (root attributes, dimension scales) for `headers`' captures.
    public init(output: AtomicOutputFile, metadata: AblationMetadata, options: AblationOptions, config: ModelConfig,
                headers: [CaptureFile.Header], seed: UInt64, shard: String = "1/1", allCaptures: [String]? = nil) throws {
        precondition(!headers.isEmpty)
        self.output = output
        self.options = options
        self.headers = headers
        maxPromptLength = headers.map(\.promptLength).max()!
        retrievalHeads = RetrievalHeads(headers: headers, threshold: options.retrievalThreshold)
        do {
            file = try HDF5File.create(output.temporaryPath)
        } catch {
            output.discard()
            throw ProbeError("\(output.targetPath): cannot create the ablation file: \(error)")
        }
        try guarded {
            try writeHeader(metadata: metadata, config: config, seed: seed)
            // A sharded run (`--shard I/N`) records its share and the whole list of captures it is a share of.
            try file.setAttribute("shard", shard)
            try file.setAttribute("grid_captures", (allCaptures ?? headers.map(\.path)).joined(separator: "\n"))
        }
    }

    /// Runs `body`; on failure removes the temporary file and names the target in the error.
    private func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch {
            file.close()
            output.discard()
            if let error = error as? ProbeError { throw error }
            throw ProbeError("\(output.targetPath): writing the ablation failed: \(error)")
        }
    }

    /// Abandons the file (the temporary file is removed; nothing appears under the target name).
    public func discard() {
        file.close()
        output.discard()
    }

    private func writeHeader(metadata: AblationMetadata, config c: ModelConfig, seed: UInt64) throws {
        let f = file
        try metadata.writeHeader(to: f, schema: Self.schema, schemaVersion: Self.schemaVersion)
        if single {
            try f.setAttribute("n_prompt", headers[0].promptLength)
            try f.setAttribute("n_decode", headers[0].steps)
        } else {
            try f.setAttribute("n_prompt", headers.map(\.promptLength))
            try f.setAttribute("n_decode", headers.map(\.steps))
        }
        try f.setAttribute("n_prompts", headers.count)
        try f.setAttribute("seed", Int(truncatingIfNeeded: seed))
        try f.setAttribute("pseudo_count", options.pseudoCount)
        try f.setAttribute("contents", options.contents.map(\.name).joined(separator: ","))
        try f.setAttribute("positions", options.positions.map(\.name).joined(separator: ","))
        try f.setAttribute("far_offset", options.farOffset)
        try f.setAttribute("prefix_count", options.prefixCount)
        try f.setAttribute("k_values", options.kValues)
        try f.setAttribute("headline_fraction", options.headlineFraction)
        try f.setAttribute("lookahead_budget", options.lookaheadBudget ?? -1)
        try f.setAttribute("lookahead_steps", options.lookaheadSteps)
        try f.setAttribute("lookahead_prompt_queries", options.lookaheadPromptQueries)
        try f.setAttribute("pool_kernel", options.poolKernel)
        try f.setAttribute("key_tolerance", Double(options.keyTolerance))
        try f.setAttribute("importance_definition",
                           "mean over the query rows and the query heads of the KV group of softmax(q.k/sqrt(d_head)) over every key "
                           + "the row sees (visible_prompt prompt keys, then visible_own of the set's own keys), restricted to prompt keys")
        let definitions: [String] = [
            "T = capture decode/importance, P = variant importance; top_k_recall = |topk(T) & topk(P)|/k; ",
            "mass_recall = sum_{topk(P)} T / sum_{topk(T)} T; overlap = sum min(T/sum T, P/sum P); ",
            "top-k ties broken by the lower position; k clipped to n_prompt; query_cosine = mean over the first ",
            "query_cosine_rows rows r of cos(rot_q[r], capture decode/rot_q[step r]); span = capture ",
            "prompt/answer_span; span_recall = |topk(P) & span| / |span| (absent without a span); ",
            "span_recall_layer_min = min over a layer's KV heads; span_recall_retrieval = mean over the KV heads ",
            "with retrieval_kv_heads = 1 (NaN when there is none)",
        ]
        try f.setAttribute("metric_definitions", definitions.joined())
        try f.setAttribute("retrieval_threshold", retrievalHeads.threshold)
        try f.setAttribute("retrieval_copying_steps", retrievalHeads.copyingSteps)
        try f.setAttribute("retrieval_prompts", retrievalHeads.prompts)
        try f.setAttribute("span_prompts", headers.filter(\.hasAnswerSpan).count)

        try f.makeDimensionScale(name: "layer", values: Array(0..<c.nLayers), description: "transformer layer index")
        try f.makeDimensionScale(name: "head", values: Array(0..<c.nHeads), description: "query head index")
        try f.makeDimensionScale(name: "kv_head", values: Array(0..<c.nKVHeads),
                                 description: "KV head index; query head h uses KV head h / (n_heads / n_kv_heads)")
        try f.makeDimensionScale(name: "k", values: options.kValues,
                                 description: "budget k of the metrics, as listed (each is clipped to the prompt length when used)")
        try f.makeDimensionScale(name: "position", values: Array(0..<maxPromptLength), description: "absolute prompt position")
        try f.makeDimensionScale(name: "query", values: Array(0..<options.pseudoCount),
                                 description: "row of a variant's query set (pseudo token i, or window query i)")
        try f.makeDimensionScale(name: "lookahead_query", values: Array(0..<(options.lookaheadSteps + options.lookaheadPromptQueries)),
                                 description: "row of the lookahead set: the greedy lookahead steps, then the last prompt queries")
        try f.makeDimensionScale(name: "d_head", values: Array(0..<c.dHead), description: "component within a head")
        try f.makeDimensionScale(name: "prompt", values: Array(0..<headers.count), description: "capture index, in the order given")
        try f.createStringDataset("captures", values: headers.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path },
                                  description: "the capture files, in the order given").attachScales(["prompt"])
        let layer = ("layer", c.nLayers)
        try tensor("retrieval_score", retrievalHeads.scores.map(Float.init), [layer, ("head", c.nHeads)],
                   "retrieval score per query head: the captures' decode/retrieval_score averaged over prompts, weighted "
                   + "by each prompt's copying steps (prompts without copying steps or scores left out); NaN when none copies")
        try tensor("retrieval_kv_heads", retrievalHeads.kvHeads.map { UInt8($0 ? 1 : 0) }, [layer, ("kv_head", c.nKVHeads)],
                   "1 for a KV head with a query head whose retrieval_score is above retrieval_threshold")
    }

    private func tensor<T: HDF5Scalar>(_ path: String, _ values: [T], _ dims: [(String, Int)], _ description: String) throws {
        let dataset = try file.createDataset(path, values: values, shape: dims.map(\.1), description: description)
        try dataset.attachScales(dims.map(\.0))
        dataset.close()
    }

    /// Writes prompt `index`'s results (at the root for a single capture, else under `prompts/<index>`).
    public func write(_ a: PromptAblation, index: Int) throws {
        try guarded { try writePrompt(a, index: index) }
    }

    private func writePrompt(_ a: PromptAblation, index: Int) throws {
        let prefix = single ? "" : String(format: "prompts/%03d/", index)
        let holder: HDF5Object = single ? file : try file.createGroup(String(prefix.dropLast()))
        try holder.setAttribute("capture_path", URL(fileURLWithPath: a.capturePath).standardizedFileURL.path)
        if !single {
            try holder.setAttribute("n_prompt", a.promptLength)
            try holder.setAttribute("n_decode", a.steps)
        }
        try holder.setAttribute("headline_k", a.kValues[a.headlineIndex])
        try holder.setAttribute("headline_k_index", a.headlineIndex)
        try holder.setAttribute("prompt_key_max_abs_diff", Double(a.promptKeyMaxDifference))
        try holder.setAttribute("window_query_max_abs_diff", Double(a.windowQueryMaxDifference))
        try holder.setAttribute("truth_importance_max_abs_diff", Double(a.truthImportanceMaxDifference))
        try holder.setAttribute("oracle_tokens", a.oracleTokens)
        try holder.setAttribute("repeat_token", a.repeatToken)
        try holder.setAttribute("lookahead_tokens", a.lookaheadTokens)
        try holder.setAttribute("lookahead_kept", a.lookaheadBudget)
        try holder.setAttribute("prefill_seconds", a.prefillSeconds)
        try holder.setAttribute("total_seconds", a.totalSeconds)

        let L = a.variants.first!.metrics.nLayers
        let G = a.variants.first!.metrics.nKVHeads, H = a.variants.first!.metrics.nHeads
        let K = options.kValues.count, n = a.promptLength, N = maxPromptLength
        let layer = ("layer", L), kvHead = ("kv_head", G), head = ("head", H), k = ("k", K)
        for result in a.variants {
            let path = prefix + "variants/" + result.variant.name
            let group = try file.createGroup(path)
            try setVariantAttributes(group, result.variant)
            try group.setAttribute("query_cosine_rows", result.metrics.cosineRows)
            try group.setAttribute("seconds", result.seconds)
            group.close()
            if let set = result.queries {
                let rowDimension = result.variant == .lookahead ? "lookahead_query" : "query"
                let rows = (rowDimension, set.rows), d = ("d_head", set.dHead)
                try tensor(path + "/tokens", set.tokens.map { Int32($0) }, [rows], "token id of each query row")
                try tensor(path + "/positions", set.positions.map { Int32($0) }, [rows], "absolute position of each query row")
                try tensor(path + "/visible_prompt", set.visiblePrompt.map { Int32($0) }, [rows],
                           "prompt keys 0..visible_prompt-1 are in the row's softmax")
                try tensor(path + "/visible_own", set.visibleOwn.map { Int32($0) }, [rows],
                           "the set's own keys (rot_k rows) 0..visible_own-1 are in the row's softmax, after the prompt keys")
                try tensor(path + "/rot_q", set.fileQueries, [layer, head, rows, d], "post-RoPE queries of the query rows")
                try tensor(path + "/rot_k", set.fileKeys, [layer, kvHead, rows, d], "post-RoPE keys of the query rows (their own K)")
            }
            var importance = result.importance
            if N > n {
                importance = (0..<(L * G)).flatMap { Array(result.importance[($0 * n)..<(($0 + 1) * n)]) + Array(repeating: Float.nan, count: N - n) }
            }
            try tensor(path + "/importance", importance, [layer, kvHead, ("position", N)],
                       "P: mean over query rows and the group's query heads of the softmax weight on prompt key j"
                       + (N > n ? " (NaN past this prompt's n_prompt)" : ""))
            try writeMetrics(path, result.metrics.topKRecall, result.metrics.massRecall, result.metrics.overlap,
                             result.metrics.queryCosine, dims: (layer, kvHead, head, k), suffix: "")
            if let span = result.metrics.spanRecall {
                try writeSpanMetrics(path, span, dims: (layer, kvHead, k), suffix: "")
            }
        }
    }

    /// What a variant is: `kind` (`pseudo` or `reference`), its `pseudo_content` and `pseudo_position` names.
    private func setVariantAttributes(_ group: HDF5Object, _ variant: AblationVariant) throws {
        try group.setAttribute("kind", variant.kind)
        try group.setAttribute("pseudo_content", variant.contentName)
        try group.setAttribute("pseudo_position", variant.positionName)
    }

    /// The span metrics of one variant from its `span_recall` `[L, G, K]`; `suffix` `_ci95` for half-widths
    /// (then `derived` holds the aggregates' own layer minima and retrieval means).
    private func writeSpanMetrics(_ path: String, _ span: [Double], dims: ((String, Int), (String, Int), (String, Int)),
                                  suffix: String, derived: (layerMin: [Double], retrieval: [Double])? = nil) throws {
        let (layer, kvHead, k) = dims
        let note = suffix.isEmpty ? "" : " (95% t-interval half-width across the prompts with a span)"
        let layerMin = derived?.layerMin ?? SpanMetrics.layerMinimum(span, nLayers: layer.1, nKVHeads: kvHead.1, budgets: k.1)
        let retrieval = derived?.retrieval ?? SpanMetrics.retrievalMean(span, heads: retrievalHeads.kvHeads, budgets: k.1)
        try tensor(path + "/span_recall" + suffix, span.map(Float.init), [layer, kvHead, k],
                   "|topk(P) ∩ span| / |span|: the share of the answer span (capture prompt/answer_span) the selection keeps" + note)
        try tensor(path + "/span_recall_layer_min" + suffix, layerMin.map(Float.init), [layer, k],
                   "minimum of span_recall over the layer's KV heads" + note)
        try tensor(path + "/span_recall_retrieval" + suffix, retrieval.map(Float.init), [k],
                   "mean of span_recall over the retrieval KV heads (root retrieval_kv_heads; NaN when there is none)" + note)
    }

    private func writeMetrics(_ path: String, _ topK: [Double], _ mass: [Double], _ overlap: [Double], _ cosine: [Double],
                              dims: ((String, Int), (String, Int), (String, Int), (String, Int)), suffix: String) throws {
        let (layer, kvHead, head, k) = dims
        let note = suffix.isEmpty ? "" : " (95% t-interval half-width across prompts)"
        try tensor(path + "/top_k_recall" + suffix, topK.map(Float.init), [layer, kvHead, k], "|topk(T) ∩ topk(P)| / k" + note)
        try tensor(path + "/mass_recall" + suffix, mass.map(Float.init), [layer, kvHead, k],
                   "Σ_{topk(P)} T / Σ_{topk(T)} T: share of the best true attention mass kept" + note)
        try tensor(path + "/overlap" + suffix, overlap.map(Float.init), [layer, kvHead], "Σ_j min(T̂[j], P̂[j]), both normalised to sum 1" + note)
        try tensor(path + "/query_cosine" + suffix, cosine.map(Float.init), [layer, head],
                   "mean cosine of query row r and the true decoding query of step r, over the first query_cosine_rows rows" + note)
    }

    /// Writes the aggregates (several captures), the summary table and `complete = 1`, then commits the file.
    public func finish(_ prompts: [PromptMetrics]) throws {
        try guarded {
            if !single, let first = prompts.first {
                let L = first.variants.first!.metrics.nLayers, G = first.variants.first!.metrics.nKVHeads
                let H = first.variants.first!.metrics.nHeads
                let dims = (("layer", L), ("kv_head", G), ("head", H), ("k", options.kValues.count))
                for (variant, _) in first.variants {
                    let all = prompts.compactMap { $0.metrics(variant) }
                    guard all.count == prompts.count else { continue }
                    let path = "variants/" + variant.name
                    let group = try file.createGroup(path)
                    try setVariantAttributes(group, variant)
                    try group.setAttribute("description", "metrics averaged over the \(prompts.count) prompts (prompts/<i>/variants/\(variant.name))")
                    group.close()
                    let topK = AblationSummary.aggregateArrays(all.map(\.topKRecall))
                    let mass = AblationSummary.aggregateArrays(all.map(\.massRecall))
                    let overlap = AblationSummary.aggregateArrays(all.map(\.overlap))
                    let cosine = AblationSummary.aggregateArrays(all.map(\.queryCosine))
                    try writeMetrics(path, topK.mean, mass.mean, overlap.mean, cosine.mean, dims: dims, suffix: "")
                    try writeMetrics(path, topK.ci95, mass.ci95, overlap.ci95, cosine.ci95, dims: dims, suffix: "_ci95")
                    // Span metrics over the prompts that have a span: each derived array is aggregated as an
                    // array of its own (the mean of minima, not the minimum of means).
                    let spans = all.compactMap(\.spanRecall)
                    if !spans.isEmpty {
                        let K = options.kValues.count
                        let span = AblationSummary.aggregateArrays(spans)
                        let layerMin = AblationSummary.aggregateArrays(spans.map { SpanMetrics.layerMinimum($0, nLayers: L, nKVHeads: G, budgets: K) })
                        let retrieval = AblationSummary.aggregateArrays(spans.map { SpanMetrics.retrievalMean($0, heads: retrievalHeads.kvHeads, budgets: K) })
                        let spanDims = (("layer", L), ("kv_head", G), ("k", K))
                        try writeSpanMetrics(path, span.mean, dims: spanDims, suffix: "", derived: (layerMin.mean, retrieval.mean))
                        try writeSpanMetrics(path, span.ci95, dims: spanDims, suffix: "_ci95", derived: (layerMin.ci95, retrieval.ci95))
                    }
                }
            }
            try writeSummary(AblationSummary.rows(prompts, retrievalKVHeads: retrievalHeads.kvHeads))
            try file.setAttribute("complete", 1)
            try file.flush()
            file.close()
            try output.commit()
        }
    }

    /// The summary table as the group `summary/`: one 1-D dataset per column over the dimension `summary_row`.
    private func writeSummary(_ rows: [SummaryRow]) throws {
        let group = try file.createGroup("summary")
        try group.setAttribute("description", "per prompt and variant: metrics averaged over layers and heads, per budget k "
            + "(k_rule fixed) and at the prompt's headline budget (k_rule 3%: the k nearest 3% of n); capture 'all': means "
            + "over prompts with 95% t-interval half-widths; span_recall over layers and KV heads, span_recall_retrieval over "
            + "the retrieval KV heads, span_recall_layer_min the mean over layers of the minimum over KV heads; NaN without "
            + "a span, 'all' rows over the span_prompts prompts that have one")
        group.close()
        try file.makeDimensionScale(name: "summary_row", values: Array(0..<rows.count), description: "row of the summary table").close()
        let columns = HDF5Columns(file: file, group: "summary", dimension: "summary_row", rows: rows.count)
        for column in SummaryRow.columns {
            switch column.values {
            case .text(let value): try columns.strings(column.name, rows.map(value), column.description)
            case .integer(let value): try columns.int64s(column.name, rows.map(value), column.description)
            case .number(let value): try columns.doubles(column.name, rows.map(value), column.description)
            }
        }
    }
}
