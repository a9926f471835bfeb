import XCTest

@testable import Analysis
@testable import Probe

/// How pseudo tokens are built: content (which ids) and position (which absolute positions).
final class AblationPseudoTokenTests: XCTestCase {
    let prompt = Array(100..<140)   // n = 40
    func builder(seed: UInt64 = 0, repeatToken: Int? = nil) -> PseudoContentBuilder {
        PseudoContentBuilder(count: 8, prefixCount: 3, seed: seed, vocabularySize: 50, excluded: [0, 1, 2], repeatToken: repeatToken)
    }

    func testCopiedContents() throws {
        let b = builder()
        XCTAssertEqual(try b.tokens(.suffix, prompt: prompt), Array(132..<140))
        XCTAssertEqual(try b.tokens(.prefix, prompt: prompt), Array(100..<108))
        XCTAssertEqual(try b.tokens(.prefixSuffix, prompt: prompt), [100, 101, 102] + Array(135..<140))
        XCTAssertEqual(try b.tokens(.repeat, prompt: prompt), Array(repeating: 139, count: 8))
        XCTAssertEqual(try builder(repeatToken: 5).tokens(.repeat, prompt: prompt), Array(repeating: 5, count: 8))
        let answer = Array(200..<210)
        XCTAssertEqual(try b.tokens(.oracle, prompt: prompt, oracle: answer), Array(200..<208))
        XCTAssertThrowsError(try b.tokens(.oracle, prompt: prompt, oracle: [1, 2])) {
            XCTAssertTrue("\($0)".contains("oracle content needs 8 tokens"), "\($0)")
        }
    }

    func testRandomContentIsSeededUniformAndSkipsExcludedIds() throws {
        let a = try builder(seed: 1).tokens(.random, prompt: prompt)
        XCTAssertEqual(a, try builder(seed: 1).tokens(.random, prompt: prompt), "same seed, same ids")
        XCTAssertNotEqual(a, try builder(seed: 2).tokens(.random, prompt: prompt))
        XCTAssertEqual(a.count, 8)
        var seen = Set<Int>()
        for seed in 0..<200 {
            for id in try builder(seed: UInt64(seed)).tokens(.random, prompt: prompt) {
                XCTAssertTrue(id >= 3 && id < 50, "id \(id) excluded or outside the vocabulary")
                seen.insert(id)
            }
        }
        XCTAssertEqual(seen.count, 47, "every allowed id is drawn")
    }

    func testRefusals() {
        XCTAssertThrowsError(try builder().tokens(.suffix, prompt: Array(0..<5))) {
            XCTAssertTrue("\($0)".contains("longer than the prompt"), "\($0)")
        }
        let bad = PseudoContentBuilder(count: 4, prefixCount: 4, vocabularySize: 10)
        XCTAssertThrowsError(try bad.tokens(.prefixSuffix, prompt: prompt)) {
            XCTAssertTrue("\($0)".contains("below --pseudo-count"), "\($0)")
        }
        XCTAssertThrowsError(try builder(repeatToken: 99).tokens(.repeat, prompt: prompt))
    }

    func testPositions() {
        XCTAssertEqual(PseudoPosition.future.positions(promptLength: 40, count: 4), [40, 41, 42, 43])
        XCTAssertEqual(PseudoPosition.input.positions(promptLength: 40, count: 4), [36, 37, 38, 39])
        XCTAssertEqual(PseudoPosition.far.positions(promptLength: 40, count: 4, farOffset: 1000), [1040, 1041, 1042, 1043])
        XCTAssertEqual(PseudoPosition.far.positions(promptLength: 40, count: 2), [1064, 1065], "Δ defaults to 1024")
        XCTAssertEqual(PseudoPosition.fixed.positions(promptLength: 40, count: 3), [40, 40, 40])
    }

    func testNamesAndLists() throws {
        XCTAssertEqual(try PseudoContent.parseList("all"), PseudoContent.allCases)
        XCTAssertEqual(try PseudoContent.parseList("prefix+suffix, random,random"), [.prefixSuffix, .random])
        XCTAssertEqual(try PseudoPosition.parseList("far,future"), [.far, .future])
        XCTAssertThrowsError(try PseudoPosition.parseList("later")) { XCTAssertTrue("\($0)".contains("unknown position 'later'")) }
        XCTAssertThrowsError(try PseudoContent.parseList(","))
        XCTAssertEqual(AblationVariant.pseudo(.prefixSuffix, .future).name, "prefix+suffix_future")
        let grid = AblationVariant.grid(contents: [.suffix, .oracle], positions: [.future, .far])
        XCTAssertEqual(grid.map(\.name), ["suffix_future", "suffix_far", "oracle_future", "oracle_far", "window", "lookahead", "truth"])
        XCTAssertEqual(grid.map(\.kind).filter { $0 == "reference" }.count, 3)
    }
}
