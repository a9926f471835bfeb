/// The toolkit's version, recorded in every output file.
public enum ToolVersion {
    public static let string = "0.1.0"
}
