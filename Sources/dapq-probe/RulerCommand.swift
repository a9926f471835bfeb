import ArgumentParser
import Compression
import Foundation
import Probe

struct RulerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ruler",
        abstract: "RULER single-needle tasks: every policy at every budget, over lengths × seeded samples, into HDF5 + CSV.",
        discussion: """
            niah_single_1: noise haystack, word key → 7-digit number; niah_single_2: essays, word → number; \
            niah_single_3: essays, word → UUID. RULER's templates and answer prefix, keys from the wamerican word \
            list, values and needle depths drawn from the seed (any sample can be regenerated alone); answers of at \
            most 128 tokens; RULER's string_match_all score.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sweep: SweepOptions
    @OptionGroup var compression: CompressionOptions

    @Option(help: "Tasks, comma-separated: niah_single_1, niah_single_2, niah_single_3 (or ruler for all three).")
    var task: String = "niah_single_1,niah_single_2,niah_single_3"

    @Option(help: "Samples per task and length.")
    var samples: Int = 20

    @Option(help: "The word list the keys come from.")
    var wordList: String = RulerWordList.defaultPath

    func run() throws {
        guard samples >= 1 else { throw ProbeError("--samples must be at least 1") }
        let tasks = try EvaluationTask.parseList(task)
        guard tasks.allSatisfy(\.isRuler) else { throw ProbeError("--task '\(task)': only RULER tasks here (niah is its own command)") }
        let settings = try compression.settings()
        let budgets = try sweep.budgetList()
        let words = try RulerWordList(path: wordList)
        let model = try modelOptions.load()
        let grid = EvaluationGrid(
            tasks: tasks, lengths: try sweep.lengthList(), depths: [], samples: samples, policies: try policyList(sweep.policies),
            budgets: try budgets.entryCounts(budgetOption: "--budgets"), seed: settings.seed, needle: "", question: "", answerPrefix: "", answer: "",
            haystack: sweep.haystack ?? "essays", wordList: words.description,
            settings: settings.record.merging(["numerics": model.numerics.rawValue]) { $1 }, compressionRatios: budgets.compressionRatios)
        try sweep.run(grid: grid, model: model, modelOptions: modelOptions, settings: settings, wordListPath: wordList)
    }
}
