import Analysis
import Foundation
import Probe

/// Where a running sweep is, for a progress display.
public enum SweepProgress: Sendable {
    /// Unit `index` (0-based) of `count` in this shard starts; `skipped` units were finished before (resume).
    case unit(name: String, index: Int, count: Int, skipped: Int, elapsed: Double)
    case compression(CompressionProgress)
    /// Unit `index` of `count` is finished and journaled: its rows, in grid order.
    case unitFinished(name: String, index: Int, count: Int, rows: [EvaluationRow], elapsed: Double)
}

/// Runs a grid of NIAH / RULER prompts × policies × budgets (docs/evaluation.md): each prompt is built,
/// prefilled once, every policy × budget cache decoded in one batch, the answers scored; each finished prompt's
/// rows go to the journal at once.
public struct EvaluationSweep {
    public let compressor: Compressor
    public let grid: EvaluationGrid
    public let samples: EvaluationSamples

    public init(compressor: Compressor, grid: EvaluationGrid, samples: EvaluationSamples) {
        self.compressor = compressor
        self.grid = grid
        self.samples = samples
    }

    /// Refuses, before any long work, units that cannot run (too long for the context, shorter than a window).
    public func check(_ units: [EvaluationUnit]) throws {
        let policies = try grid.policies.map(PolicySpec.init(parsing:))
        let context = compressor.model.config.contextLength
        for unit in units {
            guard unit.length + unit.task.maxNewTokens + compressor.settings.pseudoCount <= context else {
                throw ProbeError("\(unit.name): \(unit.length) prompt tokens and \(unit.task.maxNewTokens) answer tokens exceed the model's context of \(context) tokens")
            }
            for spec in policies { try spec.make(compressor.settings).check(promptLength: unit.length) }
        }
    }

    /// Runs this shard's units that the journal does not hold yet; returns all of the shard's rows in grid order.
    public func run(shard: Shard, journal: EvaluationJournal, progress: ((SweepProgress) -> Void)? = nil) throws -> [EvaluationRow] {
        let units = shard.units(of: grid.units)
        try check(units)
        let finished = journal.finishedUnits
        let todo = units.filter { !finished.contains($0.name) }
        let start = Date()
        for (index, unit) in todo.enumerated() {
            progress?(.unit(name: unit.name, index: index, count: todo.count, skipped: units.count - todo.count,
                            elapsed: Date().timeIntervalSince(start)))
            let unitRows = try rows(for: unit) { progress?(.compression($0)) }
            try journal.append(unitRows)
            progress?(.unitFinished(name: unit.name, index: index, count: todo.count, rows: unitRows,
                                    elapsed: Date().timeIntervalSince(start)))
        }
        let byUnit = Dictionary(grouping: journal.rows, by: \.unitName)
        return units.flatMap { byUnit[$0.name] ?? [] }
    }

    /// Builds, compresses, decodes and scores one unit (the question inside or outside the compressed prompt, as
    /// the compressor's settings place it).
    public func rows(for unit: EvaluationUnit, progress: ((CompressionProgress) -> Void)? = nil) throws -> [EvaluationRow] {
        let sample = try samples.sample(unit)
        let policies = try grid.policies.map(PolicySpec.init(parsing:))
        let placement = compressor.settings.questionPlacement
        let (context, question) = try sample.split(placement)
        let specs = grid.budgetSpecs
        let result = try compressor.run(prompt: context, question: question, policies: policies,
                                        budgets: specs, maxTokens: sample.maxNewTokens, progress: progress)
        let totalTokens = max(1, result.cells.reduce(0) { $0 + $1.tokens.count })
        // The ratio each budget came from, by the budget's description (`50%` for R = 0.5).
        let ratios = Dictionary(zip(specs.map(\.description), grid.compressionRatios ?? []), uniquingKeysWith: { a, _ in a })
        return result.cells.map { cell in
            let full = cell.policy == PolicyName.full.rawValue
            let budget = full ? 0 : cell.budget.entries(promptLength: sample.promptTokens.count)
            var row = EvaluationRow(
                task: unit.task.name, length: unit.length, depth: unit.depth, sample: unit.sample ?? -1, policy: cell.policy,
                placement: placement.rawValue, budget: budget, entries: cell.entries, score: sample.score(answer: cell.text), answer: cell.text,
                reference: sample.references.joined(separator: " | "), needleDepth: sample.needleDepthPercent,
                promptTokens: sample.promptTokens.count, generatedTokens: cell.tokens.count, cacheBytes: cell.cacheBytes,
                prefillMs: result.prefillSeconds * 1000, scoreMs: cell.scoreSeconds * 1000,
                decodeMs: result.decodeSeconds * 1000 * Double(cell.tokens.count) / Double(totalTokens))
            row.compressionRatio = full ? nil : ratios[cell.budget.description]
            if let span = sample.answerTokenRange {
                let recall = SpanMetrics.keptSpanRecall(kept: cell.kept, span: span)
                (row.spanStart, row.spanEnd) = (span.lowerBound, span.upperBound)
                (row.spanRecall, row.spanRecallLayerMin, row.spanRecallHeads) = (recall.mean, recall.layerMinimum, recall.perHead)
            }
            return row
        }
    }
}

/// Builds the sample of a unit: NIAH from the needle texts and the haystack, RULER from its templates.
public final class EvaluationSamples {
    public let format: EvaluationPromptFormat
    public let grid: EvaluationGrid
    private var haystack: Haystack?
    private var wordList: RulerWordList?
    private let haystackPath: String?
    private let wordListPath: String

    public init(model: LanguageModel, grid: EvaluationGrid, haystackPath: String?, wordListPath: String) throws {
        format = try EvaluationPromptFormat(model: model, chat: true)
        self.grid = grid
        self.haystackPath = haystackPath
        self.wordListPath = wordListPath
    }

    /// The essays (loaded once).
    public func essays() throws -> Haystack {
        if let haystack { return haystack }
        let loaded = try Haystack(path: haystackPath)
        haystack = loaded
        return loaded
    }

    public func words() throws -> RulerWordList {
        if let wordList { return wordList }
        let loaded = try RulerWordList(path: wordListPath)
        wordList = loaded
        return loaded
    }

    public func sample(_ unit: EvaluationUnit) throws -> EvaluationSample {
        if unit.task.isRuler {
            let essays = RulerTask.haystackKind(of: unit.task) == .essay ? try self.essays() : nil
            return try RulerTask(task: unit.task, format: format, wordList: try words(), haystack: essays, seed: grid.seed)
                .sample(length: unit.length, index: unit.sample ?? 0)
        }
        return try NeedleTask(haystack: try essays(), format: format, needle: grid.needle, question: grid.question,
                              answerPrefix: grid.answerPrefix, answer: grid.answer)
            .sample(length: unit.length, depthPercent: unit.depth ?? 0)
    }
}
