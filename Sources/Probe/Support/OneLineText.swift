/// Text that must stay on one line — a CSV cell, a column of a printed table: backslash, line feed, carriage return
/// and tab are written as the two characters `\\`, `\n`, `\r`, `\t`, so `"a\n\nb"` becomes `a\n\nb` on one line
/// and the original can be recovered. The HDF5 files keep the raw text.
public enum OneLineText {
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// An RFC 4180 CSV field of `text` on one line: escaped as above, then quoted when it holds a comma or a quote.
    public static func csvField(_ text: String) -> String {
        let line = escaped(text)
        return line.contains(where: { $0 == "," || $0 == "\"" }) ? "\"" + line.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : line
    }
}
