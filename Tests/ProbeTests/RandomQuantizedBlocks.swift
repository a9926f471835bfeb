@testable import Probe

/// Random GGUF blocks of a 32-block `type` for a `rows × cols` weight: random quantized values, finite float16
/// scales (and, for Q4_1/Q5_1, minima) of modest size.
func randomQuantizedBlocks(_ type: GGMLType, rows: Int, cols: Int, seed: UInt64) -> [UInt8] {
    var rng = SeededGenerator(seed: seed)
    var bytes: [UInt8] = []
    for _ in 0..<(rows * cols / 32) {
        var block = (0..<type.bytesPerBlock).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let d = Float16(Float(rng.next() % 1000 + 1) / 20_000).bitPattern
        block[0] = UInt8(d & 0xFF); block[1] = UInt8(d >> 8)
        if type == .q4_1 || type == .q5_1 {
            let m = Float16(-Float(rng.next() % 1000) / 4_000).bitPattern
            block[2] = UInt8(m & 0xFF); block[3] = UInt8(m >> 8)
        }
        bytes += block
    }
    return bytes
}
