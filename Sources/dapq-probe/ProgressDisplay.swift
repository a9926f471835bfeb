import ArgumentParser
import Foundation
import Probe

#if canImport(Glibc)
import Glibc
#endif

/// When progress is shown on stderr.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// A bar on a terminal; otherwise a plain line every 5 seconds (none for a shorter run).
    case auto
    /// As auto, and off a terminal also the first line of each phase at once (tests and scripts that watch a run).
    case always
    /// Nothing.
    case never
}

/// Progress of long runs on stderr, through `ProgressReporter`: on a terminal a bar redrawn in place, otherwise a
/// plain line every few seconds (`ProgressMode`), never one per token.
final class ProgressDisplay {
    /// Seconds between plain lines when stderr is not a terminal.
    static let lineInterval = 5.0
    static let help = "Progress on stderr: auto (a bar on a terminal, else a line every 5 s), always (also each phase's first line at once), never."

    private let reporter: ProgressReporter?
    private var phase = ""

    init(mode: ProgressMode = .auto) {
        let terminal = isatty(2) == 1
        switch mode {
        case .never: reporter = nil
        case .auto, .always:
            reporter = ProgressReporter(style: terminal ? .terminal
                                        : .lines(interval: Self.lineInterval, immediate: mode == .always))
        }
    }

    /// Shows a capture's progress: a bar over the prefill's layers, then over the decoding steps.
    func show(_ progress: CaptureProgress) {
        switch progress {
        case let .prefill(done, layers, tokens, seconds):
            let tokensDone = Double(tokens) * Double(done) / Double(max(layers, 1))
            reporter?.update(done: done, total: layers, unit: "layers", elapsed: seconds,
                             detail: "prefill \(tokens) tokens, \(Self.rate(tokensDone, seconds)) tokens/s",
                             force: newPhase("prefill") || done == layers)
        case let .decoding(done, steps, seconds):
            reporter?.update(done: done, total: steps, unit: "steps", elapsed: seconds,
                             detail: "decoding \(Self.rate(Double(done), seconds)) tokens/s", force: newPhase("decoding"))
        }
    }

    /// Countable work: `done` of `total` `unit`s (e.g. prompts) after `elapsed` seconds, `detail` after it.
    func update(done: Int, total: Int, unit: String, elapsed: Double, detail: String = "") {
        reporter?.update(done: done, total: total, unit: unit, elapsed: elapsed, detail: detail, force: newPhase("\(unit) \(done)"))
    }

    /// Shows a one-off status (e.g. "writing out.h5").
    func status(_ text: String) {
        reporter?.status(text, force: newPhase(text))
    }

    /// Clears the terminal line.
    func finish() { reporter?.finish() }

    private func newPhase(_ name: String) -> Bool {
        defer { phase = name }
        return name != phase
    }

    private static func rate(_ count: Double, _ seconds: Double) -> String {
        seconds > 0 ? String(format: "%.1f", count / seconds) : "–"
    }
}
