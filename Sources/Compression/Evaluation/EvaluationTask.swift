import Foundation
import Probe

/// The evaluation tasks (docs/evaluation.md): the classic needle in a haystack and RULER's three
/// single-needle tasks. The raw value is the name used on the command line and in result files.
public enum EvaluationTask: String, CaseIterable, Sendable, Hashable {
    /// Needle in a haystack (gkamradt): a fixed needle sentence in the Paul Graham essays, at a requested depth.
    case niah
    /// RULER S-NIAH-1: noise haystack (one repeated block of five sentences), word key → 7-digit number.
    case niahSingle1 = "niah_single_1"
    /// RULER S-NIAH-2: essay haystack, word key → 7-digit number.
    case niahSingle2 = "niah_single_2"
    /// RULER S-NIAH-3: essay haystack, word key → UUID.
    case niahSingle3 = "niah_single_3"

    /// The name used in option lists and result files (`niah_single_1`).
    public var name: String { rawValue }

    /// Whether the task is one of RULER's (scored by `string_match_all`, sampled by index rather than depth).
    public var isRuler: Bool { self != .niah }

    /// The RULER tasks.
    public static let rulerTasks: [EvaluationTask] = [.niahSingle1, .niahSingle2, .niahSingle3]

    /// Greedy tokens generated per answer: 32 for NIAH, RULER's 128 for its tasks.
    public var maxNewTokens: Int { isRuler ? 128 : 32 }

    /// Parses `niah_single_1,niah_single_3`; `all` means every task, `ruler` the three RULER tasks. Duplicates
    /// are dropped, order kept.
    public static func parseList(_ text: String) throws -> [EvaluationTask] {
        var result: [EvaluationTask] = []
        func add(_ tasks: [EvaluationTask]) { for t in tasks where !result.contains(t) { result.append(t) } }
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            switch part {
            case "all": add(allCases)
            case "ruler": add(rulerTasks)
            default:
                guard let task = EvaluationTask(rawValue: part) else {
                    throw ProbeError("unknown task '\(part)' (known: \(allCases.map(\.rawValue).joined(separator: ", ")), ruler, all)")
                }
                add([task])
            }
        }
        guard !result.isEmpty else { throw ProbeError("no task given") }
        return result
    }
}
