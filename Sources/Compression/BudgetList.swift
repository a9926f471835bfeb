import Foundation
import Probe

/// The budgets a command line asks for: a list of entry counts and percentages (`--budget`/`--budgets 32,64,3%`) or a
/// list of kvpress compression ratios (`--compression-ratio 0.5,0.9`), never both.
public struct BudgetList: Sendable, Equatable {
    /// The budgets, in the order given.
    public let budgets: [Budget]
    /// The ratios they came from (`--compression-ratio`), or nil for budgets given as entries or percentages.
    public let compressionRatios: [Double]?

    /// Parses `budgets` (the text of `budgetOption`) or `ratios` (`--compression-ratio`); with neither, `fallback`.
    public init(budgets: String?, ratios: String?, budgetOption: String, fallback: String) throws {
        switch (budgets, ratios) {
        case (.some, .some):
            throw ProbeError("give \(budgetOption) or --compression-ratio, not both")
        case (_, .some(let text)):
            let values = try Self.items(text, "--compression-ratio").map { item -> Double in
                guard let ratio = Double(item) else { throw ProbeError("--compression-ratio '\(text)': '\(item)' is not a number") }
                return ratio
            }
            self.budgets = try values.map { try Budget(compressionRatio: $0) }
            compressionRatios = values
        case (let text, nil):
            let text = text ?? fallback
            self.budgets = try Self.items(text, budgetOption).map { try Budget(parsing: $0) }
            compressionRatios = nil
        }
        guard Set(self.budgets.map(\.description)).count == self.budgets.count else {
            throw ProbeError("\(compressionRatios == nil ? budgetOption : "--compression-ratio") '\(budgets ?? ratios ?? fallback)': a budget is listed twice")
        }
    }

    /// The budgets as a sweep's grid takes them: entry counts (none for compression ratios, which the grid holds
    /// apart); percentages are refused.
    public func entryCounts(budgetOption: String) throws -> [Int] {
        guard compressionRatios == nil else { return [] }
        return try budgets.map {
            guard case .entries(let n) = $0 else {
                throw ProbeError("\(budgetOption): sweeps take entry counts or --compression-ratio, not percentages")
            }
            return n
        }
    }

    private static func items(_ text: String, _ option: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !items.contains("") else { throw ProbeError("\(option) '\(text)': an empty item") }
        return items
    }
}
