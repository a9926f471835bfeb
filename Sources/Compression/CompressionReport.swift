import Foundation
import Probe

/// What `compress` prints: a table of every policy × budget, or one JSON object per cell.
public enum CompressionReport {
    /// One cell as a JSON object (`compress --json`): `policy`, `budget` (entries per layer and KV head the budget asks
    /// for on this prompt of `promptLength` tokens), `budget_spec` (as given), `entries`, `text`, `cache_bytes`,
    /// `final_cache_bytes`, `score_ms`, `agreement`, `tokens`.
    public static func jsonObject(_ cell: CompressionCell, promptLength: Int) -> [String: Any] {
        ["policy": cell.policy, "budget": cell.budget.entries(promptLength: promptLength), "budget_spec": cell.budget.description,
         "entries": cell.entries, "text": cell.text, "cache_bytes": cell.cacheBytes, "final_cache_bytes": cell.finalCacheBytes,
         "score_ms": cell.scoreSeconds * 1000, "agreement": cell.agreement, "tokens": cell.tokens]
    }

    /// The table: the prompt and timings, the full-cache answer, then one line per cell; answers in double quotes on
    /// one line (`OneLineText`: no `\'`, newlines as `\n`).
    public static func table(_ result: CompressionResult) -> String {
        func quoted(_ text: String) -> String { "\"" + OneLineText.escaped(text) + "\"" }
        var lines = [String(format: "prompt %d tokens, prefill %.2f s; %d answers decoded in %.2f s (batch %d)",
                            result.promptLength, result.prefillSeconds, result.cells.count, result.decodeSeconds, result.batchSize),
                     "full cache: " + quoted(result.fullText)]
        let width = max(10, result.cells.map(\.policy.count).max() ?? 0)
        lines.append("policy".padding(toLength: width, withPad: " ", startingAt: 0) + "  budget  entries  cache MB  score ms  agree  answer")
        for cell in result.cells {
            let name = cell.policy.padding(toLength: width, withPad: " ", startingAt: 0)
            let budget = String(repeating: " ", count: max(0, 6 - cell.budget.description.count)) + cell.budget.description
            lines.append("\(name)  \(budget)  " + String(format: "%7d  %8.2f  %8.1f  %5.2f  ", cell.entries, Double(cell.cacheBytes) / 1e6,
                                                         cell.scoreSeconds * 1000, cell.agreement) + quoted(cell.text))
        }
        return lines.joined(separator: "\n")
    }
}

/// The progress of `Compressor.run` as a short phrase for a progress line.
extension CompressionProgress: CustomStringConvertible {
    public var description: String {
        switch self {
        case .prefill(let tokens): return "prefill  \(tokens) tokens"
        case .reference(let maxTokens): return "full-cache answer  up to \(maxTokens) tokens"
        case let .scoring(policy, index, count): return "scoring  \(policy) (\(index + 1)/\(count))"
        case let .decoding(running, cells): return "decoding  \(running)/\(cells) answers still running"
        }
    }
}
