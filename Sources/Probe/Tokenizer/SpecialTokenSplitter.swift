import Foundation

/// Cuts text at the special tokens written in it, as llama.cpp's `tokenizer_st_partition` does: for each special
/// token in turn, longest text first, every occurrence in every still-raw fragment becomes that token; the
/// remaining raw fragments go to the pre-tokenizer.
///
/// With `parseSpecial` false, control and unknown tokens are left in the text, but user-defined tokens are still
/// cut out (as llama.cpp and Hugging Face tokenizers do).
struct SpecialTokenSplitter: Sendable {
    enum Fragment: Equatable {
        case text(Range<Int>)
        case token(Int)
    }

    /// Special tokens longest text first: id, text, whether it is recognised only when parsing special tokens, and
    /// whether whitespace before / after it is dropped.
    private let tokens: [(id: Int, text: [UInt8], needsParseSpecial: Bool, lstrip: Bool, rstrip: Bool)]

    init(vocabulary: Vocabulary) {
        tokens = vocabulary.specialTokensLongestFirst().compactMap { id in
            let text = vocabulary.texts[id]
            guard !text.isEmpty else { return nil }
            let attr = vocabulary.attributes[id]
            return (id, text, !attr.isDisjoint(with: [.control, .unknown]), attr.contains(.lstrip), attr.contains(.rstrip))
        }
    }

    /// The fragments of `bytes`, in order.
    func split(_ bytes: [UInt8], parseSpecial: Bool) -> [Fragment] {
        if bytes.isEmpty { return [] }
        var fragments: [Fragment] = [.text(0..<bytes.count)]
        bytes.withUnsafeBufferPointer { hay in
            for token in tokens where parseSpecial || !token.needsParseSpecial {
                var out: [Fragment] = []
                var changed = false
                token.text.withUnsafeBufferPointer { needle in
                    for fragment in fragments {
                        guard case .text(let range) = fragment else { out.append(fragment); continue }
                        var start = range.lowerBound
                        while start < range.upperBound {
                            guard let match = Self.find(needle, in: hay, from: start, to: range.upperBound) else { break }
                            var leftEnd = match
                            if token.lstrip { while leftEnd > start && Self.isSpace(hay[leftEnd - 1]) { leftEnd -= 1 } }
                            if leftEnd > start { out.append(.text(start..<leftEnd)) }
                            out.append(.token(token.id))
                            start = match + needle.count
                            if token.rstrip { while start < range.upperBound && Self.isSpace(hay[start]) { start += 1 } }
                            changed = true
                        }
                        if start < range.upperBound { out.append(.text(start..<range.upperBound)) }
                    }
                }
                if changed { fragments = out }
            }
        }
        return fragments
    }

    /// C's `isspace`: space, \t, \n, \v, \f, \r.
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (0x09...0x0D).contains(b) }

    /// The first index ≥ `from` where `needle` occurs entirely before `to`.
    private static func find(_ needle: UnsafeBufferPointer<UInt8>, in hay: UnsafeBufferPointer<UInt8>,
                             from: Int, to: Int) -> Int? {
        let n = needle.count
        guard n > 0, to - from >= n, let base = hay.baseAddress, let nb = needle.baseAddress else { return nil }
        let first = Int32(nb[0])
        let lastStart = to - n
        var i = from
        while i <= lastStart {
            guard let p = memchr(base + i, first, lastStart - i + 1) else { return nil }
            let at = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
            if memcmp(base + at, nb, n) == 0 { return at }
            i = at + 1
        }
        return nil
    }
}
