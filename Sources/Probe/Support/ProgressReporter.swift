import Foundation

/// Progress of a long run for a person watching stderr. On a terminal one line is redrawn in place (at most ten
/// times a second), with a bar when the work is countable: `[#####.....] 45%  12/27 prompts  ETA 1m20s`. Elsewhere
/// (a log file, a pipe, a batch job) plain lines, at most one every `interval` seconds, so a log gets a line every
/// few seconds and never one per token. The clock and the sink are injected (tests drive the throttling without
/// waiting).
public final class ProgressReporter {
    public enum Style: Sendable, Equatable {
        /// Redraw one line in place (`\r`, erase to the end of the line).
        case terminal
        /// Plain lines, at most one per `interval` seconds; `immediate`: also the first line at once and the first of
        /// each new phase (`force`), else the first line comes `interval` seconds after the start.
        case lines(interval: Double, immediate: Bool)
    }

    public let style: Style
    private let clock: () -> Double
    private let write: (String) -> Void
    private var lastDraw: Double
    private var drewOnTerminal = false

    /// Seconds on a monotonic clock.
    public static func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    public init(style: Style, clock: @escaping () -> Double = ProgressReporter.monotonicSeconds,
                write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.style = style
        self.clock = clock
        self.write = write
        if case .lines(_, false) = style { lastDraw = clock() } else { lastDraw = -.infinity }
    }

    /// Countable work: `done` of `total` `unit`s (e.g. prompts), `elapsed` seconds since the work began (for the
    /// ETA), `detail` after it. `force` shows it now where the style allows (a new phase, the last step).
    public func update(done: Int, total: Int, unit: String, elapsed: Double, detail: String = "", force: Bool = false) {
        let eta = done > 0 && done < total ? "  ETA " + Self.duration(elapsed / Double(done) * Double(total - done)) : ""
        let text = Self.bar(done: done, total: total) + "  \(done)/\(total) \(unit)" + eta + (detail.isEmpty ? "" : "  " + detail)
        show(text, force: force)
    }

    /// A line of text with no count (e.g. `writing out.h5`).
    public func status(_ text: String, force: Bool = false) { show(text, force: force) }

    /// Clears the terminal line (nothing for plain lines).
    public func finish() {
        guard style == .terminal, drewOnTerminal else { return }
        write("\r\u{1B}[K")
        drewOnTerminal = false
    }

    private func show(_ text: String, force: Bool) {
        let now = clock()
        switch style {
        case .terminal:
            guard force || now - lastDraw >= 0.1 else { return }
            write("\r\u{1B}[K" + text)
            drewOnTerminal = true
        case let .lines(interval, immediate):
            guard (force && immediate) || now - lastDraw >= interval else { return }
            write(text + "\n")
        }
        lastDraw = now
    }

    /// `[#####.....]  45%`: ten cells, the share done in whole percent.
    public static func bar(done: Int, total: Int, width: Int = 10) -> String {
        let share = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 0
        let filled = Int((share * Double(width)).rounded(.down))
        let percent = String(Int((share * 100).rounded(.down)))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(repeating: " ", count: 3 - percent.count) + percent + "%"
    }

    /// `45s`, `1m20s`, `2h05m`.
    public static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h" + String(format: "%02dm", s % 3600 / 60) }
        return s >= 60 ? "\(s / 60)m" + String(format: "%02ds", s % 60) : "\(s)s"
    }
}
