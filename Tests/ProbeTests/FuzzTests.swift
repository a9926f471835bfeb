import Foundation
import XCTest
@testable import Probe
import ProbeFuzzing

/// The fuzzing targets of `make fuzz` (issue 22) in the test suite: the seeds are valid, a short seeded mutation
/// run of each target finds nothing, and every input a fuzzer ever crashed on (Tests/Fixtures/fuzz/) now passes.
final class FuzzTests: XCTestCase {
    func testSeedsAreValid() throws {
        let seeds = FuzzSeeds.all()
        XCTAssertEqual(Set(seeds.map(\.name)).count, seeds.count)
        for seed in seeds {
            let file = try GGUFFile(bytes: seed.bytes, name: seed.name)
            switch seed.name.split(separator: "-").first {
            case "llama", "qwen2":
                let model = try LanguageModel(gguf: file)
                XCTAssertEqual(model.config.architecture.name, String(seed.name.prefix { $0 != "-" }))
            case "vocabulary":
                XCTAssertGreaterThan(try Tokenizer(gguf: file).vocabularySize, 256)
            default:
                XCTAssertEqual(Set(file.tensors.map(\.type.name)), Set(GGMLType.allCases.filter(\.isSupported).map(\.name)))
                XCTAssertEqual(file.metadata.count, 15)
            }
            seed.bytes.withUnsafeBytes(GGUFFuzzTarget.run)
        }
    }

    func testShortSeededRunOfTheGGUFReader() {
        let count = MutationRun.run(seeds: FuzzSeeds.all().map(\.bytes), executions: 3000, seed: 22, target: GGUFFuzzTarget.run)
        XCTAssertEqual(count, 3000 + FuzzSeeds.all().count)
    }

    func testShortSeededRunOfTheTokenizer() {
        let seeds = TokenizerFuzzTarget.seeds()
        XCTAssertEqual(MutationRun.run(seeds: seeds, executions: 3000, seed: 22, target: TokenizerFuzzTarget.run), 3000 + seeds.count)
    }

    /// Inputs the fuzzers crashed on, minimized: `gguf-*` for the GGUF reader, `tokenizer-*` for the tokenizer.
    func testEveryCrashFoundStaysFixed() throws {
        let folder = TestPaths.fixtures.appendingPathComponent("fuzz")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasSuffix(".md") }.sorted()
        XCTAssertFalse(names.isEmpty)
        for name in names {
            let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
            if name.hasPrefix("gguf-") {
                bytes.withUnsafeBytes(GGUFFuzzTarget.run)
            } else {
                XCTAssertTrue(name.hasPrefix("tokenizer-"), name)
                bytes.withUnsafeBytes(TokenizerFuzzTarget.run)
            }
        }
    }
}
