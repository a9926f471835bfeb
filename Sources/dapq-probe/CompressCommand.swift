import ArgumentParser
import Compression
import Foundation
import Probe

struct CompressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compress",
        abstract: "Evict the prompt's KV cache with each policy at each budget and generate from the smaller caches.",
        discussion: """
            Prefills the prompt once; each policy scores the prompt keys and each (layer, KV head) keeps B entries \
            with their original positions; every policy × budget cache is then decoded greedily, all of them in one \
            batch. Reports the answer, the bytes the cache holds, the scoring time and the agreement with the \
            full-cache answer. Policies: \(PolicyName.allCases.map(\.rawValue).joined(separator: ", ")) (or all); a DapQ \
            cell as dapq[content=suffix,position=far]. With --question, the question follows the prompt in the same \
            message; --question-placement outside compresses the prompt alone and appends the question after eviction.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var promptOptions: PromptOptions
    @OptionGroup var compression: CompressionOptions

    @Option(help: "Policies, comma-separated, or all; a DapQ cell as dapq[content=suffix,position=far], a design as lookahead-full[heads=adaptive,aggregation=max]. The default: the recommended policy (lookahead-full, docs/policies.md) beside the full cache and the paper's recipe and SnapKV.")
    var policy: String = "lookahead-full,full,dapq,snapkv"

    @Option(help: "A question asked after the prompt (a blank line between them); needed by --question-placement outside.")
    var question: String?

    @Option(help: "Budgets, comma-separated: entries per (layer, KV head) (64) or a fraction of the prompt (3%) (default: 64).")
    var budget: String?

    @Option(help: "Instead of --budget: kvpress compression ratios R, comma-separated (0.9: keep n·(1−R) entries, rounded as 10%).")
    var compressionRatio: String?

    @Option(help: "Most tokens to generate per answer.")
    var maxTokens: Int = 32

    @Option(help: "Answers decoded together in one batch (1: one by one; up to \(BatchedGreedyDecoder.exactBatchLimit) the answers are bit-identical to one by one).")
    var batchSize: Int = BatchedGreedyDecoder.exactBatchLimit

    @Option(help: "An HDF5 file for the results (kept entries, answers, bytes, timings).")
    var out: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Flag(help: "One JSON object per line for each policy × budget instead of the table (fields: docs/output.md).")
    var json = false

    @Option(help: ArgumentHelp(ProgressDisplay.help))
    var progress: ProgressMode = .auto

    func run() throws {
        guard maxTokens >= 1 else { throw ProbeError("--max-tokens must be at least 1") }
        guard batchSize >= 1 else { throw ProbeError("--batch-size must be at least 1") }
        let policies = try PolicySpec.parseList(policy)
        let budgets = try BudgetList(budgets: budget, ratios: compressionRatio, budgetOption: "--budget", fallback: "64").budgets
        let settings = try compression.settings()
        let output = try out.map { try AtomicOutputFile(path: $0, overwrite: force) }
        if let output { InterruptCleanup.install(for: output) }
        defer { InterruptCleanup.uninstall() }
        let modelPath = try ModelCatalogue.resolve(modelOptions.model)
        let model = try modelOptions.load()
        let prompt: [Int], questionStart: Int?
        if let question {
            let format = try EvaluationPromptFormat(model: model, chat: promptOptions.chat)
            let rendered = format.render(context: try promptOptions.text(), question: question)
            (prompt, questionStart) = (rendered.rendered.tokens, rendered.questionTokenStart)
        } else {
            guard settings.questionPlacement == .inside else { throw ProbeError("--question-placement outside needs --question") }
            (prompt, questionStart) = (try promptOptions.tokens(for: model), nil)
        }
        let (context, appended) = try settings.questionPlacement.split(prompt, questionStart: questionStart)
        let compressor = try Compressor(model: model, settings: settings, batchSize: batchSize)
        let display = ProgressDisplay(mode: progress)
        let result: CompressionResult
        do {
            defer { display.finish() }
            result = try compressor.run(prompt: context, question: appended, policies: policies, budgets: budgets,
                                        maxTokens: maxTokens) {
                display.status($0.description)
            }
        } catch {
            output?.discard()
            throw error
        }
        if let output {
            let metadata = try ModelProvenance(model: model, modelPath: modelPath, threads: modelOptions.threads,
                                               commandLine: ModelProvenance.shellQuoted(CommandLine.arguments))
            try CompressionWriter.write(result, prompt: prompt, questionTokens: appended.count, settings: settings,
                                        maxTokens: maxTokens, metadata: metadata, to: output)
        }
        try report(result, promptLength: prompt.count)
    }

    private func report(_ result: CompressionResult, promptLength: Int) throws {
        guard json else { return print(CompressionReport.table(result)) }
        for cell in result.cells { print(try JSONOutput.line(CompressionReport.jsonObject(cell, promptLength: promptLength))) }
    }
}
