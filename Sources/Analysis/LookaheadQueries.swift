import Probe

/// LAQ (lookahead queries): compress the prompt cache the SnapKV way, greedily decode a few tokens on the
/// smaller cache, and use their queries (plus the last few real prompt queries) as the query set that scores
/// the *full* prompt (docs/policies.md, `laq`).
public struct LookaheadQueries {
    /// Entries kept per (layer, KV head) by the SnapKV compression, the observation window included.
    public var budget: Int
    /// SnapKV's observation window: the last `window` prompt queries score the older keys and stay kept.
    public var window: Int
    /// Max-pooling kernel over SnapKV's scores.
    public var kernel: Int
    /// Greedy tokens decoded on the compressed cache.
    public var steps: Int

    public init(budget: Int, window: Int, kernel: Int = 7, steps: Int = 8) {
        self.budget = budget
        self.window = window
        self.kernel = kernel
        self.steps = steps
    }

    /// What the lookahead produced.
    public struct Result: Sendable {
        /// The decoded tokens, fed at positions `n, n+1, …` on the compressed cache.
        public var tokens: [Int]
        /// Their queries and keys (each sees the whole prompt and the lookahead rows up to itself when scored).
        public var queries: QuerySet
        /// The kept prompt indices per layer and KV head.
        public var kept: [[[Int]]]
    }

    /// The SnapKV choice per (layer, KV head) from the importance of the last `window` prompt queries.
    public func keep(windowImportance: Importance) -> [[[Int]]] {
        let n = windowImportance.promptLength, G = windowImportance.nKVHeads
        return (0..<windowImportance.nLayers).map { l in
            (0..<G).map { g in
                let row = Array(windowImportance.sums[((l * G + g) * n)..<((l * G + g + 1) * n)])
                return Eviction.snapKV(windowImportance: row, budget: budget, window: window, kernel: kernel)
            }
        }
    }

    /// Runs the lookahead: `cache` holds exactly the `n` prompt entries (it is not changed), `firstToken` is
    /// the full-cache prefill's greedy choice, `windowImportance` the importance of the last `window` prompt
    /// queries. Decoding does not stop at an end-of-generation token (the lookahead is a fixed length).
    public func run(model: LanguageModel, cache: KVCache, promptLength n: Int, firstToken: Int,
                    windowImportance: Importance) -> Result {
        run(model: model, cache: cache, promptLength: n, firstToken: firstToken, kept: keep(windowImportance: windowImportance))
    }

    /// The same lookahead on a cache compressed to `kept` (prompt indices per layer and KV head), however chosen.
    public func run(model: LanguageModel, cache: KVCache, promptLength n: Int, firstToken: Int, kept: [[[Int]]]) -> Result {
        let compressed = cache.keeping(kept, extraCapacity: steps + 1)
        let (tokens, queries) = Self.decode(model: model, cache: compressed, promptLength: n, firstToken: firstToken, steps: steps)
        return Result(tokens: tokens, queries: queries, kept: kept)
    }

    /// The lookahead on the *uncompressed* prompt cache (`cache` holds exactly the `n` prompt entries and is
    /// left so): the first tokens of the full-cache greedy answer and their queries. No first-stage eviction can
    /// lose what the answer needs, at the price of decoding steps on the full cache. At least `minimumSteps` tokens
    /// are decoded; past them decoding goes on while the answer is copying a run of the prompt (`CopySource`: the
    /// last token continues a copied run), up to `maximumSteps`, so an answer that copies a long value (a UUID, a
    /// number) is looked ahead whole; it stops at an end-of-generation token.
    public static func onFullCache(model: LanguageModel, cache: KVCache, prompt: [Int], firstToken: Int,
                                   minimumSteps: Int, maximumSteps: Int, probe: [Int] = []) -> (tokens: [Int], queries: QuerySet) {
        let lengths = cache.lengths
        defer { cache.truncate(to: lengths) }
        let cap = max(minimumSteps, maximumSteps)
        cache.reserve(additional: cap + probe.count + 1)
        let stops = model.tokenizer.endOfGenerationIDs, indexed = CopySource.Prompt(prompt)
        return decode(model: model, cache: cache, promptLength: prompt.count, firstToken: firstToken, probe: probe) { tokens in
            continues(tokens, prompt: indexed, minimumSteps: minimumSteps, maximumSteps: cap, stops: stops)
        }
    }

    /// Whether a full-cache lookahead that has decoded `tokens` decodes another: below `minimumSteps` always,
    /// never at `maximumSteps` or after an end-of-generation token, and in between while the last token continues
    /// a run copied from `prompt` (its `CopySource` is a prompt position).
    public static func continues(_ tokens: [Int], prompt: CopySource.Prompt, minimumSteps: Int, maximumSteps: Int,
                                 stops: Set<Int>) -> Bool {
        guard tokens.count < maximumSteps, let last = tokens.last, !stops.contains(last) else { return false }
        return tokens.count < minimumSteps || (CopySource.align(generated: tokens, onto: prompt).last ?? -1) >= 0
    }

    /// Greedy decoding from `firstToken` at positions n, n+1, … on `cache` (appended to it), recording each
    /// token's queries, while `goOn(tokens so far)` says so (it is asked after each token); `steps` tokens
    /// when `goOn` is nil. End-of-generation tokens do not stop it unless `goOn` does. With a `probe`, its tokens
    /// are fed first at n … n+p−1 (their queries recorded too) and decoding starts from their greedy choice
    /// instead of `firstToken`.
    static func decode(model: LanguageModel, cache: KVCache, promptLength n: Int, firstToken: Int, probe: [Int] = [],
                       steps: Int? = nil, goOn: (([Int]) -> Bool)? = nil) -> (tokens: [Int], queries: QuerySet) {
        let recorder = QueryRecorder(config: model.config)
        var first = firstToken
        if !probe.isEmpty {
            first = GreedyDecoder.argmax(recorder.observe(model, tokens: probe, positions: Array(n..<(n + probe.count)),
                                                          cache: cache, logits: .last))
        }
        let start = n + probe.count
        let tokens = GreedyLoop().run(first: first) { goOn?($0) ?? ($0.count < (steps ?? 1)) } feed: { token, index, more in
            recorder.observe(model, tokens: [token], positions: [start + index], cache: cache, logits: more ? .last : .none)
        }.tokens
        return (tokens, recorder.querySet(.afterPrompt(promptLength: n)))
    }
}
