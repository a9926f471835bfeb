/// The Unicode classes the byte-level pre-tokenizers look at, per code point, as llama.cpp's `unicode_cpt_flags`
/// sees them: `\p{L}`, `\p{N}`, `\p{P}` and `\s` (the White_Space property, the set llama.cpp lists).
///
/// Inside a fragment every code point has at least one bit set (`defined`, even unassigned ones, as in llama.cpp
/// where unassigned code points carry the UNDEFINED flag); positions outside the fragment read as 0.
struct CodepointClass: OptionSet, Sendable {
    let rawValue: UInt8

    static let defined = CodepointClass(rawValue: 1)
    static let letter = CodepointClass(rawValue: 2)
    static let number = CodepointClass(rawValue: 4)
    static let whitespace = CodepointClass(rawValue: 8)
    static let punctuation = CodepointClass(rawValue: 16)

    /// The Unicode version of llama.cpp's character tables (src/unicode-data.cpp).
    static let unicodeVersion = (major: 15, minor: 1)

    /// Classes of every code point of the Basic Multilingual Plane, computed once.
    private static let bmp: [UInt8] = (0..<0x1_0000).map { compute(UInt32($0)).rawValue }

    @inline(__always)
    static func of(_ cpt: UInt32) -> CodepointClass {
        cpt < 0x1_0000 ? CodepointClass(rawValue: bmp[Int(cpt)]) : compute(cpt)
    }

    private static func compute(_ cpt: UInt32) -> CodepointClass {
        // Surrogates are not scalars; llama.cpp gives them the CONTROL category (never seen in valid UTF-8).
        guard let scalar = Unicode.Scalar(cpt) else { return .defined }
        if isWhitespace(cpt) { return [.defined, .whitespace] }
        // llama.cpp's tables are Unicode 15.1: a code point assigned later is unassigned there.
        guard let age = scalar.properties.age,
              age.major < unicodeVersion.major || (age.major == unicodeVersion.major && age.minor <= unicodeVersion.minor)
        else { return .defined }
        var c: CodepointClass = .defined
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            c.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            c.insert(.punctuation)
        default:
            break
        }
        return c
    }

    /// llama.cpp's whitespace set (Unicode's White_Space property), spelled out so it does not depend on the
    /// Unicode version of the standard library.
    private static func isWhitespace(_ cpt: UInt32) -> Bool {
        switch cpt {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }
}
