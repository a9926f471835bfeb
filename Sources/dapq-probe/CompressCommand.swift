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

    @Option(help: "Policies, comma-separated, or all; a DapQ cell as dapq[content=suffix,position=far].")
    var policy: String = "full,snapkv,dapq"

    @Option(help: "A question asked after the prompt (a blank line between them); needed by --question-placement outside.")
    var question: String?

    @Option(help: "Budgets, comma-separated: entries per (layer, KV head) (64) or a fraction of the prompt (3%).")
    var budget: String = "64"

    @Option(help: "Most tokens to generate per answer.")
    var maxTokens: Int = 32

    @Option(help: "Answers decoded together in one batch (1: one by one; up to \(BatchedGreedyDecoder.exactBatchLimit) the answers are bit-identical to one by one).")
    var batchSize: Int = BatchedGreedyDecoder.exactBatchLimit

    @Option(help: "An HDF5 file for the results (kept entries, answers, bytes, timings).")
    var out: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Flag(help: "One JSON object per line for each policy × budget instead of the table.")
    var json = false

    @Option(help: "Progress on stderr: auto (on a terminal only), always, never.")
    var progress: ProgressMode = .auto

    func run() throws {
        guard maxTokens >= 1 else { throw ProbeError("--max-tokens must be at least 1") }
        guard batchSize >= 1 else { throw ProbeError("--batch-size must be at least 1") }
        let policies = try PolicySpec.parseList(policy)
        let budgets = try parseBudgets(budget)
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
                display.status(Self.describe($0))
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
        try report(result)
    }

    private static func describe(_ progress: CompressionProgress) -> String {
        switch progress {
        case .prefill(let tokens): return "prefill  \(tokens) tokens"
        case .reference(let maxTokens): return "full-cache answer  up to \(maxTokens) tokens"
        case let .scoring(policy, index, count): return "scoring  \(policy) (\(index + 1)/\(count))"
        case let .decoding(running, cells): return "decoding  \(running)/\(cells) answers still running"
        }
    }

    private func report(_ result: CompressionResult) throws {
        if json {
            for cell in result.cells {
                print(try JSONOutput.line([
                    "policy": cell.policy, "budget": cell.budget.description, "entries": cell.entries, "text": cell.text,
                    "cache_bytes": cell.cacheBytes, "final_cache_bytes": cell.finalCacheBytes,
                    "score_ms": cell.scoreSeconds * 1000, "agreement": cell.agreement, "tokens": cell.tokens,
                ] as [String: Any]))
            }
            return
        }
        print(String(format: "prompt %d tokens, prefill %.2f s; %d answers decoded in %.2f s (batch %d)",
                     result.promptLength, result.prefillSeconds, result.cells.count, result.decodeSeconds, result.batchSize))
        print("full cache: \(result.fullText.debugDescription)")
        let width = max(10, result.cells.map(\.policy.count).max() ?? 0)
        print("policy".padding(toLength: width, withPad: " ", startingAt: 0) + "  budget  entries  cache MB  score ms  agree  answer")
        for cell in result.cells {
            let name = cell.policy.padding(toLength: width, withPad: " ", startingAt: 0)
            let budget = String(repeating: " ", count: max(0, 6 - cell.budget.description.count)) + cell.budget.description
            print("\(name)  \(budget)  " + String(format: "%7d  %8.2f  %8.1f  %5.2f  ", cell.entries, Double(cell.cacheBytes) / 1e6,
                                                  cell.scoreSeconds * 1000, cell.agreement) + cell.text.debugDescription)
        }
    }
}
