import Foundation

/// A column of the ablation's summary table: its name in the file and in `ablate --json`, what it holds, and how a
/// row gives its value.
public struct SummaryColumn: Sendable {
    public enum Values: Sendable {
        case text(@Sendable (SummaryRow) -> String)
        case integer(@Sendable (SummaryRow) -> Int)
        case number(@Sendable (SummaryRow) -> Double)
    }

    public let name: String
    public let description: String
    public let values: Values

    init(_ name: String, _ values: Values, _ description: String) {
        self.name = name
        self.values = values
        self.description = description
    }
}

extension SummaryRow {
    /// The summary table's columns, in file order (the file's `summary/` group and the JSON rows use these alone).
    public static let columns: [SummaryColumn] = [
        SummaryColumn("capture", .text { $0.prompt }, "the capture's file name, or 'all' for the means over prompts"),
        SummaryColumn("prompt_index", .integer { $0.promptIndex }, "the capture's index (the prompt dimension), -1 for 'all'"),
        SummaryColumn("variant", .text { $0.variant }, "variant: <content>_<position>, window, lookahead or truth"),
        SummaryColumn("pseudo_content", .text { $0.content }, "the pseudo tokens' content ('' for a reference)"),
        SummaryColumn("pseudo_position", .text { $0.position }, "the pseudo tokens' positions ('' for a reference)"),
        SummaryColumn("kind", .text { $0.kind }, "pseudo or reference"),
        SummaryColumn("k_rule", .text { $0.kRule }, "fixed (one budget of the list) or 3% (the prompt's headline budget)"),
        SummaryColumn("k", .integer { $0.k }, "the budget as listed, entries per (layer, KV head) (-1 where prompts used different ones)"),
        SummaryColumn("k_used", .integer { $0.kUsed }, "the budget as used, clipped to n (-1 where prompts used different ones)"),
        SummaryColumn("n_prompts", .integer { $0.prompts }, "prompts the row averages"),
        SummaryColumn("span_prompts", .integer { $0.spanPrompts }, "prompts with an answer span among them"),
        SummaryColumn("top_k_recall", .number { $0.topKRecall }, "top-k recall"),
        SummaryColumn("mass_recall", .number { $0.massRecall }, "attention-mass recall"),
        SummaryColumn("overlap", .number { $0.overlap }, "overlap"),
        SummaryColumn("query_cosine", .number { $0.queryCosine }, "query cosine"),
        SummaryColumn("span_recall", .number { $0.spanRecall }, "span recall"),
        SummaryColumn("span_recall_retrieval", .number { $0.spanRecallRetrieval }, "span recall over the retrieval KV heads"),
        SummaryColumn("span_recall_layer_min", .number { $0.spanRecallLayerMin }, "mean over layers of the span recall's minimum over KV heads"),
        SummaryColumn("top_k_recall_ci95", .number { $0.topKRecallCI95 }, "95% half-width of top_k_recall"),
        SummaryColumn("mass_recall_ci95", .number { $0.massRecallCI95 }, "95% half-width of mass_recall"),
        SummaryColumn("overlap_ci95", .number { $0.overlapCI95 }, "95% half-width of overlap"),
        SummaryColumn("query_cosine_ci95", .number { $0.queryCosineCI95 }, "95% half-width of query_cosine"),
        SummaryColumn("span_recall_ci95", .number { $0.spanRecallCI95 }, "95% half-width of span_recall"),
        SummaryColumn("span_recall_retrieval_ci95", .number { $0.spanRecallRetrievalCI95 }, "95% half-width of span_recall_retrieval"),
        SummaryColumn("span_recall_layer_min_ci95", .number { $0.spanRecallLayerMinCI95 }, "95% half-width of span_recall_layer_min"),
    ]

    /// The row as `ablate --json` prints it: `record` = `row` and every column by its name (NaN as null).
    public var jsonObject: [String: Any] {
        var object: [String: Any] = ["record": "row"]
        for column in Self.columns {
            switch column.values {
            case .text(let value): object[column.name] = value(self)
            case .integer(let value): object[column.name] = value(self)
            case .number(let value):
                let x = value(self)
                object[column.name] = x.isNaN ? NSNull() : x
            }
        }
        return object
    }
}
