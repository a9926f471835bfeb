/// A seeded mutation run: each execution mutates one of the seeds (round robin) with a `SeededMutator` and hands
/// the result to a fuzzing target. What libFuzzer does with coverage feedback, without it: the test suite's short
/// run, reproducible from its seed.
public enum MutationRun {
    /// Runs `executions` mutated inputs (plus each seed unmutated first) through `target`; returns the count run.
    /// A target traps on a broken invariant, so a run that returns found nothing.
    @discardableResult
    public static func run(seeds: [[UInt8]], executions: Int, seed: UInt64,
                           target: (UnsafeRawBufferPointer) -> Void) -> Int {
        precondition(!seeds.isEmpty)
        for s in seeds { s.withUnsafeBytes(target) }
        var mutator = SeededMutator(seed: seed)
        for i in 0..<executions {
            mutator.mutate(seeds[i % seeds.count]).withUnsafeBytes(target)
        }
        return seeds.count + executions
    }
}
