/// How a KV cache stores keys and values.
///
/// llama-cpp numerics round every key and value to float16 before they enter the cache, so `f16` holds them
/// exactly in half the memory, and attention gives bit-identical results from either storage. float32 numerics keep
/// keys and values unrounded, which only `f32` holds: `f16` is refused there rather than silently rounding.
public enum KVType: String, Sendable, CaseIterable {
    /// IEEE binary16, 2 bytes per value (as llama.cpp's default cache).
    case f16
    /// IEEE binary32, 4 bytes per value.
    case f32

    /// Bytes per stored key or value element.
    public var bytesPerValue: Int { self == .f16 ? 2 : 4 }

    /// The storage a cache gets under `numerics` unless another is asked for: `f16` under llama-cpp numerics
    /// (which round to half anyway), `f32` under float32 numerics.
    public static func `default`(for numerics: Numerics) -> KVType { numerics == .llamaCpp ? .f16 : .f32 }

    /// Whether this storage holds what `numerics` computes exactly: `f16` needs llama-cpp numerics.
    public func holdsExactly(_ numerics: Numerics) -> Bool { self == .f32 || numerics == .llamaCpp }

    /// Throws unless this storage holds what `numerics` computes exactly.
    public func check(for numerics: Numerics) throws {
        guard holdsExactly(numerics) else {
            throw ProbeError("--kv-type \(rawValue) cannot hold \(numerics.rawValue) numerics' keys and values (they are not "
                             + "rounded to half); use --kv-type f32, the default there")
        }
    }
}
