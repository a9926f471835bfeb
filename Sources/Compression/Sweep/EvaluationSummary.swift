import Foundation

/// The sweep's headline: mean score per policy × budget over the grid, per task, with the full cache as
/// the reference line.
public enum EvaluationSummary {
    public static func table(_ rows: [EvaluationRow]) -> String {
        var out: [String] = []
        let tasks = rows.map(\.task).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        for task in tasks {
            let taskRows = rows.filter { $0.task == task }
            let units = Set(taskRows.map(\.unitName)).count
            let budgets = Set(taskRows.filter { $0.policy != "full" }.map(\.budget)).sorted()
            let policies = taskRows.map(\.policy).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
            func mean(_ policy: String, _ budget: Int?) -> String {
                let scores = taskRows.filter { $0.policy == policy && (budget == nil || $0.budget == budget) }.map(\.score)
                return scores.isEmpty ? "     –" : String(format: "%6.3f", scores.reduce(0, +) / Double(scores.count))
            }
            out.append("\(task): mean score over \(units) prompts")
            if policies.contains("full") { out.append("  full cache (reference): \(mean("full", nil).trimmingCharacters(in: .whitespaces))") }
            let width = max(9, policies.map(\.count).max() ?? 0)
            out.append("  " + "policy".padding(toLength: width, withPad: " ", startingAt: 0) + "  " + budgets.map { String(repeating: " ", count: max(0, 6 - String($0).count)) + String($0) }.joined(separator: "  "))
            for policy in policies where policy != "full" {
                out.append("  " + policy.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                           + budgets.map { mean(policy, $0) }.joined(separator: "  "))
            }
        }
        return out.joined(separator: "\n")
    }
}
