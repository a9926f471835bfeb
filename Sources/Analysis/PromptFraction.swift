/// The one rounding from a fraction of the prompt to a count of cache entries, shared by `compress`'s `3%` and
/// `--compression-ratio` budgets and `ablate`'s headline budget ("the k nearest 3% of n").
public enum PromptFraction {
    /// `fraction · promptLength` rounded to the nearest integer (halves away from zero), at least 1, at most the prompt.
    public static func entries(_ fraction: Double, of promptLength: Int) -> Int {
        min(promptLength, max(1, Int((fraction * Double(promptLength)).rounded())))
    }
}
