import Foundation

/// The one greedy (argmax) decoding loop every caller shares: generation, capture, the truth and oracle of the
/// compressor's evidence, the ablation's continuation and the lookahead queries. Each token is appended, then
/// `goOn` says whether another follows, then the token is fed to the model through `feed` (which the caller
/// writes, to pick the cache, the observer and what it records); the next token is the argmax of the logits
/// `feed` returns.
public struct GreedyLoop {
    /// Tokens that end the loop before they are appended or fed (the model's end-of-generation ids; empty: none).
    public var stops: Set<Int>
    /// Whether the last token is fed too (its keys join the cache, its queries are observed), or only chosen.
    public var feedsLastToken: Bool

    public init(stops: Set<Int> = [], feedsLastToken: Bool = true) {
        self.stops = stops
        self.feedsLastToken = feedsLastToken
    }

    /// What a loop produced.
    public struct Outcome {
        /// The tokens appended (a stop token excluded).
        public var tokens: [Int]
        /// Whether a stop token ended the loop.
        public var stopped: Bool
        /// The token the loop would append next: the stop token when `stopped`, else the argmax of the last logits
        /// `feed` returned when the last token was fed and logits were asked for; nil otherwise.
        public var following: Int?

        public init(tokens: [Int], stopped: Bool, following: Int? = nil) {
            self.tokens = tokens
            self.stopped = stopped
            self.following = following
        }
    }

    /// Decodes from `first`. `goOn(tokens)` is asked after each token is appended; `feed(token, index, wantsLogits)`
    /// feeds token `index` (0, 1, … of this loop) and returns its logits (asked for when another token follows;
    /// a feed may return them anyway, e.g. to continue past the loop, and `following` then holds their argmax).
    public func run(first: Int, goOn: ([Int]) -> Bool,
                    feed: (_ token: Int, _ index: Int, _ wantsLogits: Bool) -> [Float]) -> Outcome {
        var tokens: [Int] = []
        var next = first
        while true {
            if stops.contains(next) { return Outcome(tokens: tokens, stopped: true, following: next) }
            tokens.append(next)
            let more = goOn(tokens)
            guard more || feedsLastToken else { return Outcome(tokens: tokens, stopped: false, following: nil) }
            let logits = feed(next, tokens.count - 1, more)
            let chosen = logits.isEmpty ? nil : GreedyDecoder.argmax(logits)
            guard more, let chosen else { return Outcome(tokens: tokens, stopped: false, following: chosen) }
            next = chosen
        }
    }

    /// Decodes from the argmax of `logits` (the logits after the last token already in the cache).
    public func run(after logits: [Float], goOn: ([Int]) -> Bool,
                    feed: (_ token: Int, _ index: Int, _ wantsLogits: Bool) -> [Float]) -> Outcome {
        run(first: GreedyDecoder.argmax(logits), goOn: goOn, feed: feed)
    }
}
