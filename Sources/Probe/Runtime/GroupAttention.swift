import CBLAS
import Foundation

/// Attention of one KV group's query heads over that group's keys in float64, as docs/metrics.md's importance
/// definition uses it; shared by the capture recorder and the analysis scorers so the two cannot drift apart.
public enum GroupAttention {
    /// For each of `members` queries (row-major `members × dHead`), softmax(q·k/√dHead) over the first
    /// `visible` keys (row-major, row stride `dHead`), into `probabilities` (`members × visible`, row-major).
    public static func probabilities(queries: UnsafePointer<Double>, members: Int, keys: UnsafePointer<Double>,
                                     visible: Int, dHead: Int, into probabilities: UnsafeMutablePointer<Double>) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(members), Int32(visible), Int32(dHead),
                    1 / Double(dHead).squareRoot(), queries, Int32(dHead), keys, Int32(dHead), 0, probabilities, Int32(visible))
        for member in 0..<members {
            let row = probabilities + member * visible
            var largest = -Double.infinity
            for j in 0..<visible { largest = max(largest, row[j]) }
            var total = 0.0
            for j in 0..<visible {
                let e = Foundation.exp(row[j] - largest)
                row[j] = e
                total += e
            }
            for j in 0..<visible { row[j] /= total }
        }
    }
}
