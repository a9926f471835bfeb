import Foundation

/// The printed result (docs/metrics.md): rows = content, columns = position, each cell the mean
/// attention-mass recall / top-k recall at the headline budget (the `k` nearest 3% of n), then the references,
/// and the main effects of position and content; when the captures carry answer spans, a second table of span
/// recall (all KV heads / retrieval KV heads / mean of the layers' minima).
public struct AblationTable: Sendable {
    public let rows: [SummaryRow]
    public let contents: [PseudoContent]
    public let positions: [PseudoPosition]

    public init(rows: [SummaryRow], contents: [PseudoContent], positions: [PseudoPosition]) {
        self.rows = rows
        self.contents = contents
        self.positions = positions
    }

    /// The `all`, `3%` row of a variant.
    public func headline(_ variant: AblationVariant) -> SummaryRow? {
        rows.first { $0.prompt == "all" && $0.kRule == "3%" && $0.variant == variant.name }
    }

    /// Main effects at the headline budget (mass recall): the range of the position means (each averaged
    /// over contents) and of the content means (each averaged over positions). Nil with fewer than two of either.
    public var mainEffects: (position: Double, content: Double)? {
        guard contents.count >= 2, positions.count >= 2 else { return nil }
        func cell(_ c: PseudoContent, _ p: PseudoPosition) -> Double { headline(.pseudo(c, p))?.massRecall ?? .nan }
        let positionMeans = positions.map { p in Statistics.mean(contents.map { cell($0, p) }) }
        let contentMeans = contents.map { c in Statistics.mean(positions.map { cell(c, $0) }) }
        return (positionMeans.max()! - positionMeans.min()!, contentMeans.max()! - contentMeans.min()!)
    }

    /// The table as text.
    public var text: String {
        guard let any = rows.first(where: { $0.prompt == "all" && $0.kRule == "3%" }) else { return "(no results)" }
        let prompts = any.prompts
        let withIntervals = prompts > 1
        func format(_ row: SummaryRow?) -> String {
            guard let row else { return "–" }
            if withIntervals {
                return String(format: "%.3f±%.3f / %.3f±%.3f", row.massRecall, row.massRecallCI95, row.topKRecall, row.topKRecallCI95)
            }
            return String(format: "%.3f / %.3f", row.massRecall, row.topKRecall)
        }
        let kText = any.k >= 0 ? "k = \(any.k)\(any.kUsed != any.k && any.kUsed >= 0 ? " (clipped to \(any.kUsed))" : "")"
            : "k = each prompt's list entry nearest 3% of its n"
        var lines: [String] = []
        lines.append("attention-mass recall / top-k recall at \(kText), mean over layers and KV heads"
                     + (withIntervals ? ", ± 95% interval across \(prompts) prompts" : " (1 prompt)"))
        let cells = contents.map { c in positions.map { format(headline(.pseudo(c, $0))) } }
        let firstWidth = max(13, (contents.map(\.name) + ["content"]).map(\.count).max()!)
        let width = max(12, (cells.flatMap { $0 } + positions.map(\.name)).map(\.count).max()!)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        lines.append(pad("content", firstWidth) + "  " + positions.map { pad($0.name, width) }.joined(separator: "  "))
        for (c, row) in zip(contents, cells) {
            lines.append(pad(c.name, firstWidth) + "  " + row.map { pad($0, width) }.joined(separator: "  "))
        }
        lines.append("references:")
        for reference in [AblationVariant.window, .lookahead, .truth] {
            if let row = headline(reference) { lines.append("  " + pad(reference.name, firstWidth - 2) + "  " + format(row)) }
        }
        if let effects = mainEffects {
            lines.append(String(format: "main effects on mass recall: position %.3f (range of the column means), content %.3f (range of the row means)",
                                effects.position, effects.content))
        }
        if any.spanPrompts > 0 {
            func span(_ row: SummaryRow?) -> String {
                guard let row else { return "–" }
                return String(format: "%.3f / %.3f / %.3f", row.spanRecall, row.spanRecallRetrieval, row.spanRecallLayerMin)
            }
            let spanCells = contents.map { c in positions.map { span(headline(.pseudo(c, $0))) } }
            let spanWidth = max(12, (spanCells.flatMap { $0 } + positions.map(\.name)).map(\.count).max()!)
            lines.append("span recall (answer span kept): all KV heads / retrieval KV heads / mean of the layer minima, same k, "
                         + "mean over the \(any.spanPrompts) prompt\(any.spanPrompts == 1 ? "" : "s") with a span")
            lines.append(pad("content", firstWidth) + "  " + positions.map { pad($0.name, spanWidth) }.joined(separator: "  "))
            for (c, row) in zip(contents, spanCells) {
                lines.append(pad(c.name, firstWidth) + "  " + row.map { pad($0, spanWidth) }.joined(separator: "  "))
            }
            for reference in [AblationVariant.window, .lookahead, .truth] {
                if let row = headline(reference) { lines.append("  " + pad(reference.name, firstWidth - 2) + "  " + span(row)) }
            }
        }
        return lines.joined(separator: "\n")
    }
}
