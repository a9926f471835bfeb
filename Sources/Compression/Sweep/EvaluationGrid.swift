import Foundation
import Probe

/// One prompt of a sweep: the policies × budgets of a grid are decoded from its single prefill.
public struct EvaluationUnit: Sendable, Hashable {
    public let task: EvaluationTask
    public let length: Int
    /// NIAH: the needle depth in percent; RULER: nil.
    public let depth: Double?
    /// RULER: the sample index; NIAH: nil.
    public let sample: Int?

    /// A stable name, e.g. `niah/L2000/d50` or `niah_single_2/L2000/s7`.
    public var name: String {
        "\(task.name)/L\(length)/" + (depth.map { "d\(EvaluationGrid.format($0))" } ?? "s\(sample ?? 0)")
    }
}

/// Everything that defines a sweep's cells and their results (tasks, lengths, depths or samples, policies,
/// budgets, seed, needle texts, haystack, policy settings); equal grids give equal results on the same model.
/// The unit order is fixed: task, length, then depth or sample; each unit's rows are the policies in order, each
/// at every budget (`full` once, budget 0).
public struct EvaluationGrid: Sendable, Codable, Equatable {
    public var tasks: [String]
    public var lengths: [Int]
    public var depths: [Double]
    public var samples: Int
    /// The policies as `PolicySpec` writes them (`snapkv`, `dapq[content=suffix,position=far]`).
    public var policies: [String]
    public var budgets: [Int]
    /// kvpress compression ratios (`--compression-ratio`) instead of `budgets` (then empty); nil: budgets in entries.
    public var compressionRatios: [Double]?
    public var seed: UInt64
    /// The NIAH texts (needle, question, answer prefix, reference answer) and the haystack's source.
    public var needle: String
    public var question: String
    public var answerPrefix: String
    public var answer: String
    public var haystack: String
    public var wordList: String
    /// The policy settings (`CompressionSettings.record`, the question placement included) and numerics, as
    /// name → value.
    public var settings: [String: String]

    public init(tasks: [EvaluationTask], lengths: [Int], depths: [Double], samples: Int, policies: [PolicySpec],
                budgets: [Int], seed: UInt64, needle: String, question: String, answerPrefix: String, answer: String,
                haystack: String, wordList: String, settings: [String: String], compressionRatios: [Double]? = nil) {
        self.tasks = tasks.map(\.name)
        self.lengths = lengths
        self.depths = depths
        self.samples = samples
        self.policies = policies.map(\.description)
        self.budgets = compressionRatios == nil ? budgets : []
        self.compressionRatios = compressionRatios
        self.seed = seed
        self.needle = needle
        self.question = question
        self.answerPrefix = answerPrefix
        self.answer = answer
        self.haystack = haystack
        self.wordList = wordList
        self.settings = settings
    }

    /// Every unit, in the fixed order.
    public var units: [EvaluationUnit] {
        tasks.compactMap(EvaluationTask.init(rawValue:)).flatMap { task in
            lengths.flatMap { length -> [EvaluationUnit] in
                task.isRuler ? (0..<samples).map { EvaluationUnit(task: task, length: length, depth: nil, sample: $0) }
                             : depths.map { EvaluationUnit(task: task, length: length, depth: $0, sample: nil) }
            }
        }
    }

    /// The budgets every policy but `full` runs at: entries, or fractions kept (1 − R) for compression ratios.
    public var budgetSpecs: [Budget] {
        compressionRatios.map { $0.map { .fraction(1 - $0) } } ?? budgets.map(Budget.entries)
    }

    /// The budget labels of `EvaluationRow.budgetLabel`, one per entry of `budgetSpecs`.
    public var budgetLabels: [String] { compressionRatios.map { $0.map(Self.ratioLabel) } ?? budgets.map(String.init) }

    /// The (policy, budget label) rows of one unit: `full` once at budget 0, every other policy at every budget.
    public var policyBudgets: [(policy: String, budget: String)] {
        policies.flatMap { p in p == PolicyName.full.rawValue ? [(p, "0")] : budgetLabels.map { (p, $0) } }
    }

    /// `cr0.5`: how a compression ratio names its cells.
    static func ratioLabel(_ ratio: Double) -> String { "cr" + format(ratio) }

    /// The grid as canonical JSON (sorted keys): what files record and what a merge compares.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    public init(json: String) throws {
        self = try JSONDecoder().decode(EvaluationGrid.self, from: Data(json.utf8))
    }

    /// `50` for 50.0, `12.5` otherwise.
    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

extension Shard {
    /// This shard's share of a grid's `units`.
    public func units(of units: [EvaluationUnit]) -> [EvaluationUnit] { share(of: units) }
}
