import Foundation
import Probe

/// A sweep's prompts written out (`--save-prompts DIR`), so that `capture` (and then `ablate`) can run on exactly
/// the prompts the evaluation decoded: per unit, `DIR/<unit>.txt` holds the whole prompt text (chat template,
/// question and answer prefix included; `capture --prompt-file` without `--chat` tokenizes it to the same ids)
/// and `DIR/<unit>.json` its token ids, the question's first token, the answer's span (`answer_span`, `START:END`
/// as `capture --answer-span` takes it), the answer limit and the unit's coordinates.
/// `<unit>` is the unit's name with `_` for `/` (`niah_L2000_d50`, `niah_single_2_L2000_s7`).
public enum SavedPrompts {
    /// The file name (without extension) of a unit's prompt.
    public static func fileName(_ unit: EvaluationUnit) -> String { unit.name.replacingOccurrences(of: "/", with: "_") }

    /// Writes `sample`, the prompt of `unit`, into `directory` (created if needed).
    public static func write(_ sample: EvaluationSample, unit: EvaluationUnit, to directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ProbeError("\(directory): cannot create the prompt folder: \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: directory).appendingPathComponent(fileName(unit)).path
        var record: [String: Any] = ["unit": unit.name, "task": unit.task.name, "length": unit.length,
                                     "tokens": sample.promptTokens, "max_new_tokens": sample.maxNewTokens,
                                     "references": sample.references]
        record["depth"] = unit.depth
        record["sample"] = unit.sample
        record["question_token_start"] = sample.questionTokenStart
        // The answer's span, as `capture --answer-span START:END` takes it.
        record["answer_span"] = sample.answerTokenRange.map { "\($0.lowerBound):\($0.upperBound)" }
        let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        for (path, data) in [(base + ".txt", Data(sample.promptText.utf8)), (base + ".json", json)] {
            guard FileManager.default.createFile(atPath: path, contents: data) else { throw ProbeError("\(path): cannot write the prompt") }
        }
    }
}
