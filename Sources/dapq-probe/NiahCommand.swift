import ArgumentParser
import Compression
import Foundation
import Probe

struct NiahCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "niah",
        abstract: "Needle in a haystack: every policy at every budget, over lengths × depths, into HDF5 + CSV.",
        discussion: """
            The needle sentence goes at a sentence boundary at each depth of a context of each length (the whole \
            prompt, chat template included, is about that many tokens); the question comes at the end and the answer \
            prefix after the assistant header. Each prompt is prefilled once and all its policy × budget caches are \
            decoded together (at most 32 tokens). Score: the fraction of the reference answer's words in the answer.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sweep: SweepOptions
    @OptionGroup var compression: CompressionOptions

    @Option(help: "Needle depths in percent, comma-separated.")
    var depths: String = "0,10,20,30,40,50,60,70,80,90,100"

    @Option(help: "The needle sentence.")
    var needle: String = NeedleTask.defaultNeedle

    @Option(help: "The question asked after the haystack.")
    var question: String = NeedleTask.defaultQuestion

    @Option(help: "The start of the answer, placed after the assistant header.")
    var answerPrefix: String = NeedleTask.defaultAnswerPrefix

    @Option(help: "The reference answer the score compares with.")
    var answer: String = NeedleTask.defaultAnswer

    func run() throws {
        let depthList = try depths.split(separator: ",").map {
            guard let d = Double($0.trimmingCharacters(in: .whitespaces)), d >= 0, d <= 100 else {
                throw ProbeError("--depths '\(depths)': percentages from 0 to 100, comma-separated")
            }
            return d
        }
        let settings = try compression.settings()
        let budgets = try sweep.budgetList()
        let model = try modelOptions.load()
        let grid = EvaluationGrid(
            tasks: [.niah], lengths: try sweep.lengthList(), depths: depthList, samples: 0, policies: try policyList(sweep.policies),
            budgets: try budgets.entryCounts(budgetOption: "--budgets"), seed: settings.seed, needle: needle, question: question, answerPrefix: answerPrefix,
            answer: answer, haystack: sweep.haystack ?? "essays", wordList: "",
            settings: settings.record.merging(["numerics": model.numerics.rawValue]) { $1 }, compressionRatios: budgets.compressionRatios)
        try sweep.run(grid: grid, model: model, modelOptions: modelOptions, settings: settings)
    }
}
