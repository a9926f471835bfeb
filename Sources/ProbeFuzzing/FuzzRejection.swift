/// The contract of a rejected input: the error is one line that starts with the name standing for the file, with
/// no control characters (text from the file is quoted with its control characters escaped).
enum FuzzRejection {
    static func check(_ error: Error, name: String) {
        let message = "\(error)"
        let hasControl = message.unicodeScalars.contains {
            [.control, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory)
        }
        guard message.hasPrefix(name + ": "), !hasControl, message.count <= 1000 else {
            fatalError("an error that is not one line naming the file: \(message.prefix(2000).debugDescription)")
        }
    }
}
