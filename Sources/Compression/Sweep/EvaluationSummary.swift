import Foundation

/// The sweep's headline: mean score per policy × budget over the grid, per task, with the full cache as
/// the reference line.
public enum EvaluationSummary {
    /// One mean of the headline: a task's policy at one budget (`full` at budget 0) over the grid's prompts.
    public struct Mean: Sendable, Equatable {
        public var task: String
        public var policy: String
        /// The budget label of the rows (`64`, `0` for `full`, `cr0.5` for a compression ratio).
        public var budget: String
        public var score: Double
        public var cells: Int

        /// The mean as one JSON object (within the `niah`/`ruler --json` summary line).
        public var jsonObject: [String: Any] { ["task": task, "policy": policy, "budget": budget, "score": score, "cells": cells] }
    }

    /// Every mean, task by task in row order, each task's policies in row order and budgets in grid order.
    public static func means(_ rows: [EvaluationRow]) -> [Mean] {
        ordered(rows.map(\.task)).flatMap { task -> [Mean] in
            let taskRows = rows.filter { $0.task == task }
            let keys = ordered(taskRows.map { "\($0.policy)\u{0}\($0.budgetLabel)" })
            return keys.map { key in
                let cells = taskRows.filter { "\($0.policy)\u{0}\($0.budgetLabel)" == key }
                return Mean(task: task, policy: cells[0].policy, budget: cells[0].budgetLabel,
                            score: cells.reduce(0) { $0 + $1.score } / Double(cells.count), cells: cells.count)
            }
        }
    }

    /// The means as text: per task, the full-cache line, then a policy × budget table.
    public static func table(_ rows: [EvaluationRow]) -> String {
        var out: [String] = []
        let all = means(rows)
        for task in ordered(rows.map(\.task)) {
            let taskMeans = all.filter { $0.task == task }
            let units = Set(rows.filter { $0.task == task }.map(\.unitName)).count
            let budgets = ordered(taskMeans.filter { $0.policy != "full" }.map(\.budget))
            let policies = ordered(taskMeans.map(\.policy))
            func mean(_ policy: String, _ budget: String) -> String {
                taskMeans.first { $0.policy == policy && $0.budget == budget }.map { String(format: "%6.3f", $0.score) } ?? "     –"
            }
            out.append("\(task): mean score over \(units) prompts")
            if let full = taskMeans.first(where: { $0.policy == "full" }) {
                out.append("  full cache (reference): " + String(format: "%.3f", full.score))
            }
            let width = max(9, policies.map(\.count).max() ?? 0)
            out.append("  " + "policy".padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                       + budgets.map { String(repeating: " ", count: max(0, 6 - $0.count)) + $0 }.joined(separator: "  "))
            for policy in policies where policy != "full" {
                out.append("  " + policy.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                           + budgets.map { mean(policy, $0) }.joined(separator: "  "))
            }
        }
        return out.joined(separator: "\n")
    }

    private static func ordered(_ values: [String]) -> [String] {
        values.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
    }
}
