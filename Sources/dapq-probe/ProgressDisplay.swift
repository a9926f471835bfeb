import ArgumentParser
import Foundation
import Probe

#if canImport(Glibc)
import Glibc
#endif

/// When progress is shown.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// On a terminal only (the default).
    case auto
    /// Always; plain lines when stderr is not a terminal (logs, batch jobs, tests that watch a run).
    case always
    case never
}

/// Progress of long runs on stderr: prefill (tokens, tokens/s) and decoding (steps done, tokens/s, ETA).
/// On a terminal one status line is rewritten in place. In `.auto` mode it is silent when stderr is not a
/// terminal, so logs and pipes stay clean; `.always` then writes plain lines (the first of each phase at
/// once, then at most one a second).
final class ProgressDisplay {
    let enabled: Bool
    private let terminal: Bool
    private var lastDraw = Date.distantPast
    private var lastPhase = ""
    private var drewSomething = false

    init(mode: ProgressMode = .auto) {
        terminal = isatty(2) == 1
        switch mode {
        case .auto: enabled = terminal
        case .always: enabled = true
        case .never: enabled = false
        }
    }

    /// Shows a capture's progress (throttled to ten redraws a second; the last state of a phase always shows).
    func show(_ progress: CaptureProgress) {
        guard enabled else { return }
        let line: String
        let final: Bool
        switch progress {
        case let .prefill(done, layers, tokens, seconds):
            let tokensDone = Double(tokens) * Double(done) / Double(max(layers, 1))
            line = "prefill  \(Int(tokensDone))/\(tokens) tokens  \(Self.rate(tokensDone, seconds)) tokens/s"
            final = done == layers || phaseChanged("prefill")
        case let .decoding(done, steps, seconds):
            let eta = done > 0 ? seconds / Double(done) * Double(steps - done) : 0
            line = "decoding  \(done)/\(steps) steps  \(Self.rate(Double(done), seconds)) tokens/s  ETA \(Self.duration(eta))"
            final = done == steps || phaseChanged("decoding")
        }
        draw(line, force: final)
    }

    /// Shows a one-off status (e.g. "writing out.h5").
    func status(_ text: String) {
        guard enabled else { return }
        draw(text, force: true)
    }

    /// Clears the line.
    func finish() {
        guard enabled, terminal, drewSomething else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        drewSomething = false
    }

    private func phaseChanged(_ phase: String) -> Bool {
        defer { lastPhase = phase }
        return phase != lastPhase
    }

    private func draw(_ line: String, force: Bool) {
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= (terminal ? 0.1 : 1) else { return }
        lastDraw = now
        drewSomething = true
        FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K\(line)" : line + "\n").utf8))
    }

    private static func rate(_ count: Double, _ seconds: Double) -> String {
        seconds > 0 ? String(format: "%.1f", count / seconds) : "–"
    }

    private static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}
