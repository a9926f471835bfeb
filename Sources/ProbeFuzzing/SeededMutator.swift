import Probe

/// Deterministic mutations of an input, for fuzzing without libFuzzer (the test suite's short run): bit flips,
/// byte sets, truncations, chunk deletions and duplications, and rewrites of 4- and 8-byte fields with the values
/// that break length and offset arithmetic (0, 1, all ones, the sign bit, the input's size). The same seed
/// always gives the same sequence of inputs.
public struct SeededMutator {
    private var rng: SplitMix64

    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// `input` with one to four mutations stacked.
    public mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) { mutateOnce(&bytes) }
        return bytes
    }

    private mutating func mutateOnce(_ bytes: inout [UInt8]) {
        guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: rng.next())]; return }
        let at = below(bytes.count)
        switch below(8) {
        case 0:
            bytes[at] ^= 1 << UInt8(below(8))
        case 1:
            bytes[at] = [0, 1, 0x7F, 0x80, 0xFF, UInt8(truncatingIfNeeded: rng.next())][below(6)]
        case 2:
            bytes.removeSubrange(below(bytes.count + 1)...)
        case 3:
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(64)))
        case 4:
            let chunk = Array(bytes[at..<min(bytes.count, at + 1 + below(32))])
            bytes.insert(contentsOf: chunk, at: below(bytes.count + 1))
        case 5, 6:
            // A length, count or offset field: GGUF's header fields are 8 bytes, mostly at multiples of 4.
            let width = below(2) == 0 ? 8 : 4
            let start = min(at / 4 * 4, max(0, bytes.count - width))
            let interesting: [UInt64] = [0, 1, 2, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32, 1 << 62, 1 << 63, UInt64.max,
                                         UInt64(bytes.count), UInt64(bytes.count) &+ 1, rng.next() % 4096]
            let value = interesting[below(interesting.count)]
            for i in 0..<min(width, bytes.count - start) { bytes[start + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        default:
            let v = UInt8(truncatingIfNeeded: rng.next())
            for i in at..<min(bytes.count, at + 1 + below(8)) { bytes[i] = v }
        }
    }
}
