/// Integer arithmetic on sizes read from files, which answers nil instead of trapping or wrapping on overflow
/// (a release build compiled with `-Ounchecked` would wrap silently): readers check every count, length, offset
/// and product of dimensions with these before they allocate or read.
public enum CheckedArithmetic {
    /// `a + b`, or nil on overflow.
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }

    /// `a · b`, or nil on overflow.
    public static func product(_ a: Int, _ b: Int) -> Int? {
        let (value, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : value
    }

    /// The product of `values` (1 when empty), or nil on overflow.
    public static func product(_ values: some Sequence<Int>) -> Int? {
        var result = 1
        for v in values {
            guard let next = product(result, v) else { return nil }
            result = next
        }
        return result
    }

    /// `value` rounded up to a multiple of `alignment` (> 0), or nil on overflow.
    public static func alignedUp(_ value: Int, to alignment: Int) -> Int? {
        guard let padded = sum(value, alignment - 1) else { return nil }
        return padded / alignment * alignment
    }
}
