/// The seam through which callers see inside the forward pass without reaching into it.
/// All pointers are valid only during the call.
public protocol ForwardObserver: AnyObject {
    /// After RoPE, before attention, for each layer: the batch's `queries` `[T, nHeads, dHead]`,
    /// `keys` and `values` `[T, nKVHeads, dHead]`, at absolute `positions` (count T).
    func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>)

    /// Whether `didAttend` should be called (it costs a copy of every attention row).
    var wantsAttention: Bool { get }

    /// The attention probabilities of query head `head` at `layer`: `rows` batch rows of `keyCount` entries
    /// (the cache of its KV head after this batch was appended, in cache order), row-major; entries a row
    /// cannot see are zero. `firstRow` is the batch index of the first row (large batches come in chunks).
    func didAttend(layer: Int, head: Int, firstRow: Int, rows: Int, keyCount: Int, probabilities: UnsafePointer<Float>)

    /// A buffer (at least as long as the cache of the head's KV group after the batch) to which the forward
    /// pass adds every batch row's attention probabilities of query head `head` at `layer`, entry by entry in
    /// cache order; nil (the default) adds nothing. The sums cost one addition per probability and keep the
    /// fast, multi-threaded path; heads run in parallel, so each head needs its own buffer.
    func attentionSums(layer: Int, head: Int) -> UnsafeMutablePointer<Float>?
}

extension ForwardObserver {
    public func didProject(layer: Int, positions: [Int], queries: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>) {}
    public var wantsAttention: Bool { false }
    public func didAttend(layer: Int, head: Int, firstRow: Int, rows: Int, keyCount: Int, probabilities: UnsafePointer<Float>) {}
    public func attentionSums(layer: Int, head: Int) -> UnsafeMutablePointer<Float>? { nil }
}
