import Foundation

/// Byte-level BPE as llama.cpp runs it (`llm_tokenizer_bpe_session::tokenize`): a word's bytes start as one symbol
/// each (its byte-level character); the adjacent pair with the lowest merge rank (leftmost on ties) merges, until
/// no adjacent pair has a rank; each final symbol is a token, or, when it is not in the vocabulary, one token per
/// byte of its spelling (skipping bytes without a token).
///
/// Strings are interned as symbol ids (a token's symbol id is its token id), so merging compares integers.
final class BytePairEncoder: @unchecked Sendable {  // immutable but for `cache`, which `lock` guards
    private let tokenCount: Int
    /// The byte-level spelling (UTF-8) of each symbol; the first `tokenCount` are the tokens.
    private let symbolTexts: [[UInt8]]
    /// The symbol of each byte's byte-level character.
    private let byteSymbol: [Int32]
    /// (left symbol << 32 | right symbol) → (rank << 32 | merged symbol).
    private let pairs: [UInt64: UInt64]
    /// Token ids by spelling (for whole-word lookups and the byte fallback).
    private let idOfText: [[UInt8]: Int]
    /// llama.cpp's `ignore_merges`.
    private let ignoresMerges: Bool
    /// Words already encoded: raw bytes → token ids; guarded by `lock`.
    private var cache: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()
    private static let cacheLimit = 1 << 18

    /// `merges` in rank order as pairs of spellings; a pair seen twice keeps its first rank.
    init(texts: [[UInt8]], idOfText: [[UInt8]: Int], merges: [([UInt8], [UInt8])], ignoresMerges: Bool) {
        tokenCount = texts.count
        var symbols = texts
        var symbolOf = [[UInt8]: Int32]()
        symbolOf.reserveCapacity(texts.count + 1024)
        for (text, id) in idOfText { symbolOf[text] = Int32(id) }
        func intern(_ s: [UInt8]) -> Int32 {
            if let id = symbolOf[s] { return id }
            let id = Int32(symbols.count)
            symbols.append(s)
            symbolOf[s] = id
            return id
        }
        var pairs = [UInt64: UInt64]()
        pairs.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            let key = UInt64(UInt32(intern(a))) << 32 | UInt64(UInt32(intern(b)))
            if pairs[key] == nil {
                pairs[key] = UInt64(rank) << 32 | UInt64(UInt32(intern(a + b)))
            }
        }
        byteSymbol = ByteLevelEncoding.utf8OfByte.map { intern($0) }
        symbolTexts = symbols
        self.pairs = pairs
        self.idOfText = idOfText
        self.ignoresMerges = ignoresMerges
    }

    /// Appends the tokens of one pre-tokenized word, given as raw bytes.
    func encode(word: ArraySlice<UInt8>, into output: inout [Int]) {
        let key = Array(word)
        if let hit = lock.withLock({ cache[key] }) {
            for t in hit { output.append(Int(t)) }
            return
        }
        let tokens = encodeUncached(key)
        lock.withLock {
            if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = tokens
        }
        for t in tokens { output.append(Int(t)) }
    }

    /// The symbols a word merges into (no cache); exposed for tests.
    func mergedSymbols(_ word: [UInt8]) -> [[UInt8]] {
        merge(word).map { symbolTexts[Int($0)] }
    }

    private func encodeUncached(_ word: [UInt8]) -> [Int32] {
        if ignoresMerges, let id = idOfText[ByteLevelEncoding.encode(word)] { return [Int32(id)] }
        var tokens: [Int32] = []
        for s in merge(word) {
            if Int(s) < tokenCount {
                tokens.append(s)
            } else {
                for b in symbolTexts[Int(s)] {
                    if let id = idOfText[[b]] { tokens.append(Int32(id)) }
                }
            }
        }
        return tokens
    }

    /// The merge loop: a priority queue of candidate pairs keyed by (rank, left position), stale entries skipped.
    private func merge(_ word: [UInt8]) -> [Int32] {
        let n = word.count
        if n == 0 { return [] }
        var sym = word.map { byteSymbol[Int($0)] }
        if n == 1 { return sym }
        var next = Array(1...n)  // n means none
        next[n - 1] = -1
        var prev = Array(-1..<(n - 1))
        var alive = [Bool](repeating: true, count: n)

        struct Candidate { var key: UInt64; var left: Int32; var right: Int32; var leftSym: Int32; var rightSym: Int32; var merged: Int32 }
        var heap = BinaryHeap<Candidate>(reservingCapacity: n) { $0.key < $1.key }

        func push(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let a = sym[l], b = sym[r]
            guard let v = pairs[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] else { return }
            heap.push(Candidate(key: (v & 0xFFFF_FFFF_0000_0000) | UInt64(l), left: Int32(l), right: Int32(r),
                                leftSym: a, rightSym: b, merged: Int32(truncatingIfNeeded: v & 0xFFFF_FFFF)))
        }

        for i in 1..<n { push(i - 1, i) }
        while !heap.isEmpty {
            let c = heap.pop()
            let l = Int(c.left), r = Int(c.right)
            guard alive[l], alive[r], next[l] == r, sym[l] == c.leftSym, sym[r] == c.rightSym else { continue }
            sym[l] = c.merged
            alive[r] = false
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            push(prev[l], l)
            push(l, next[l])
        }
        var out: [Int32] = []
        var i = 0
        while i >= 0 {
            out.append(sym[i])
            i = next[i]
        }
        return out
    }
}
