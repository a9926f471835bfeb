import Probe

/// A forward observer that keeps the post-RoPE queries and keys of the batch rows whose positions it is
/// asked for, into a `QuerySet` (rows in the order the forward passes feed them; several passes append).
/// It never asks for the runtime's attention rows, so observing leaves the fast path as it is.
public final class QueryRecorder: ForwardObserver {
    public private(set) var set: QuerySet
    /// Which positions to keep; nil keeps every row.
    private let keep: ((Int) -> Bool)?
    /// Tokens of the pass being observed (set by `observe`), to label rows.
    private var pendingTokens: [Int] = []
    private var keptIndices: [Int] = []

    public init(config: ModelConfig, keep: ((Int) -> Bool)? = nil) {
        set = QuerySet(config: config)
        self.keep = keep
    }

    /// Runs `model.forward` on `tokens` at `positions`, recording the kept rows; returns the logits. An observer
    /// that wraps this recorder (and forwards `didProject` to it) is passed as `via`.
    @discardableResult
    public func observe(_ model: LanguageModel, tokens: [Int], positions: [Int], cache: KVCache,
                        logits: LogitsRequest = .none, via wrapper: ForwardObserver? = nil) -> [Float] {
        pendingTokens = tokens
        return model.forward(tokens: tokens, positions: positions, cache: cache, logits: logits, observer: wrapper ?? self)
    }

    public func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                           values: UnsafePointer<Float>) {
        if layer == 0 {
            keptIndices = positions.indices.filter { keep?(positions[$0]) ?? true }
            for t in keptIndices {
                set.addRowInfo(position: positions[t], token: t < pendingTokens.count ? pendingTokens[t] : -1,
                               visiblePrompt: 0, visibleOwn: 0)
            }
        }
        let qRow = set.nHeads * set.dHead, kRow = set.nKVHeads * set.dHead
        for t in keptIndices {
            set.appendLayerRow(layer: layer, query: queries + t * qRow, key: keys + t * kRow)
        }
    }

    /// The recorded rows with `visibility` set.
    public func querySet(_ visibility: QuerySet.Visibility) -> QuerySet {
        var result = set
        result.setVisibility(visibility)
        return result
    }
}
