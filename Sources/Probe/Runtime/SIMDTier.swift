import CSIMD
import Foundation

/// The instruction-set tier the integer kernels (quantized-weight products) run on. One binary carries every
/// tier; the fastest one this CPU supports is chosen when first needed, and `DAPQ_PROBE_SIMD` (read by the
/// command line through `applyEnvironment()`) or `select(_:)` can force another. Every tier gives
/// bit-identical products.
public enum SIMDTier: String, CaseIterable, Sendable {
    /// Plain C vector code, any CPU (SSE2 on x86-64, NEON on aarch64).
    case portable
    /// x86 AVX2, FMA and F16C (the float16 cache's conversions).
    case avx2
    /// x86 AVX-512 (F, BW, VL) with VNNI's `vpdpbusd`.
    case avx512vnni

    /// The environment variable that forces a tier: `portable`, `avx2` or `avx512vnni`.
    public static let environmentVariable = "DAPQ_PROBE_SIMD"

    /// Whether this CPU and its operating system can run the tier.
    public var isSupported: Bool { csimd_tier_supported(cTier) != 0 }

    /// The tiers this CPU supports, slowest first.
    public static var supported: [SIMDTier] { allCases.filter(\.isSupported) }

    /// The tier the kernels run on now.
    public static var active: SIMDTier { SIMDTier(csimd_active_tier()) }

    /// Makes the kernels run on `tier`; throws when the CPU lacks it.
    public static func select(_ tier: SIMDTier) throws {
        guard csimd_select_tier(tier.cTier) == 0 else {
            throw ProbeError("\(environmentVariable)=\(tier.rawValue): this CPU does not support the \(tier.rawValue) kernels (supported: \(supported.map(\.rawValue).joined(separator: ", ")))")
        }
    }

    /// Applies `DAPQ_PROBE_SIMD` when it is set: an unknown name or a tier the CPU lacks is an error.
    public static func applyEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let name = environment[environmentVariable], !name.isEmpty else { return }
        guard let tier = SIMDTier(rawValue: name) else {
            throw ProbeError("\(environmentVariable)=\(name): unknown tier (one of \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        try select(tier)
    }

    private var cTier: csimd_tier {
        switch self {
        case .portable: CSIMD_TIER_PORTABLE
        case .avx2: CSIMD_TIER_AVX2
        case .avx512vnni: CSIMD_TIER_AVX512VNNI
        }
    }

    private init(_ tier: csimd_tier) {
        switch tier {
        case CSIMD_TIER_AVX2: self = .avx2
        case CSIMD_TIER_AVX512VNNI: self = .avx512vnni
        default: self = .portable
        }
    }
}
