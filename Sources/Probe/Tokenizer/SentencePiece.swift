/// SentencePiece-style tokenization (`tokenizer.ggml.model` "llama") as llama.cpp runs it
/// (`llm_tokenizer_spm_session`): spaces are written "▁" (with one prepended to a fragment that starts the text or
/// follows a special token, when `tokenizer.ggml.add_space_prefix` says so), the text starts as one symbol per UTF-8
/// character, and the adjacent pair whose concatenation is the highest-scoring token merges (leftmost on ties)
/// until none is a token; a final symbol that is not a token becomes byte tokens (`<0xXX>`).
struct SentencePieceEncoder: Sendable {
    private let idOfText: [[UInt8]: Int]
    private let scores: [Float]
    /// The token of each byte: `<0xXX>`, else the one-byte text.
    private let byteToken: [Int?]

    static let spaceMarker: [UInt8] = Array("▁".utf8)

    init(vocabulary: Vocabulary, scores: [Float]) {
        idOfText = vocabulary.idOfText
        self.scores = scores
        let hex = Array("0123456789ABCDEF".utf8)
        byteToken = (0..<256).map { b in
            let spelled: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // <0xXX>
            return vocabulary.idOfText[spelled] ?? vocabulary.idOfText[[UInt8(b)]]
        }
    }

    /// Spaces written as "▁", with one in front when `prefixSpace`.
    static func escape(_ bytes: ArraySlice<UInt8>, prefixSpace: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        if prefixSpace { out += spaceMarker }
        for b in bytes {
            if b == 0x20 { out += spaceMarker } else { out.append(b) }
        }
        return out
    }

    /// A normal token's text with "▁" read as a space.
    static func unescape(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + 2 < text.count, text[i] == 0xE2, text[i + 1] == 0x96, text[i + 2] == 0x81 {
                out.append(0x20)
                i += 3
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }

    /// Appends the tokens of escaped text.
    func encode(_ text: [UInt8], into output: inout [Int]) {
        guard !text.isEmpty else { return }
        // Symbols: (start, length) per UTF-8 character, linked.
        var start: [Int] = [], length: [Int] = []
        var offset = 0
        while offset < text.count {
            let lead = text[offset]
            let width = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
            let n = min(width, text.count - offset)
            start.append(offset)
            length.append(n)
            offset += n
        }
        let count = start.count
        var next = Array(1...count)
        next[count - 1] = -1
        var prev = Array(-1..<(count - 1))

        struct Bigram { var score: Float; var left: Int; var right: Int; var size: Int }
        // Highest score first, then the smaller left position.
        var heap = BinaryHeap<Bigram> { a, b in a.score > b.score || (a.score == b.score && a.left < b.left) }
        func push(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0 else { return }
            let size = length[l] + length[r]
            guard let id = idOfText[Array(text[start[l]..<start[l] + size])] else { return }
            heap.push(Bigram(score: scores[id], left: l, right: r, size: size))
        }

        for i in 1..<max(count, 1) { push(i - 1, i) }
        while !heap.isEmpty {
            let b = heap.pop()
            guard length[b.left] != 0, length[b.right] != 0, length[b.left] + length[b.right] == b.size else { continue }
            length[b.left] += length[b.right]
            length[b.right] = 0
            next[b.left] = next[b.right]
            if next[b.right] >= 0 { prev[next[b.right]] = b.left }
            push(prev[b.left], b.left)
            push(b.left, next[b.left])
        }

        var i = 0
        while i != -1 {
            let piece = Array(text[start[i]..<start[i] + length[i]])
            if let id = idOfText[piece] {
                output.append(id)
            } else {
                for byte in piece { if let id = byteToken[Int(byte)] { output.append(id) } }
            }
            i = next[i]
        }
    }
}
