/// GPT-2's reversible map between the 256 byte values and printable Unicode scalars, which byte-level BPE
/// vocabularies spell their tokens in: printable Latin-1 bytes map to themselves, the other 68 bytes to
/// U+0100 … U+0143 in byte order (so a space is "Ġ", a newline "Ċ").
enum ByteLevelEncoding {
    /// The scalar standing for each byte.
    static let scalarOfByte: [UInt32] = {
        var map = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                map[b] = UInt32(b)
            } else {
                map[b] = next
                next += 1
            }
        }
        return map
    }()

    /// The UTF-8 encoding of each byte's scalar (one or two bytes).
    static let utf8OfByte: [[UInt8]] = scalarOfByte.map { Array(String(Character(Unicode.Scalar($0)!)).utf8) }

    /// The byte each scalar stands for, indexed by scalar value (< 0x144); -1 where the scalar stands for none.
    static let byteOfScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in scalarOfByte.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The byte-level spelling (as UTF-8) of raw bytes.
    static func encode<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes { out.append(contentsOf: utf8OfByte[Int(b)]) }
        return out
    }

    /// The raw bytes a byte-level spelled string stands for. A scalar outside the map (which only a malformed
    /// vocabulary contains) is kept as its own UTF-8, the closest llama.cpp comes to it (it emits a marker).
    static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x144, byteOfScalar[Int(v)] >= 0 {
                out.append(UInt8(byteOfScalar[Int(v)]))
            } else {
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
        }
        return out
    }
}
