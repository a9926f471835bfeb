import Foundation
import XCTest

@testable import Analysis
@testable import Compression
@testable import Probe

/// Every cell of the ablation grid as a `dapq` policy: the spec syntax, each cell's scores against the ablation's
/// importance of the same variant on the same prompt (tiny model, in process), the `oracle` content against the
/// ablation's, and several cells in one run, each named in the policy column.
final class PolicyCellTests: TemporaryDirectoryTestCase {
    func testSpecSyntax() throws {
        let cell = try PolicySpec(parsing: "dapq[content=suffix,position=far]")
        XCTAssertEqual(cell, PolicySpec(.dapq, pseudoContent: .suffix, pseudoPosition: .far))
        XCTAssertEqual(cell.description, "dapq[content=suffix,position=far]")
        XCTAssertEqual(try PolicySpec(parsing: "dapq[position=input, content=prefix+suffix]").description,
                       "dapq[content=prefix+suffix,position=input]", "keys in one canonical order")
        XCTAssertEqual(try PolicySpec(parsing: "dapq[position=fixed]").description, "dapq[position=fixed]")
        let list = try PolicySpec.parseList("snapkv,dapq[content=random,position=future],dapq[content=oracle],full")
        XCTAssertEqual(list.map(\.description), ["snapkv", "dapq[content=random,position=future]", "dapq[content=oracle]", "full"])
        var settings = CompressionSettings()
        settings.pseudoPosition = .input
        let applied = list[1].settings(settings)
        XCTAssertEqual(applied.pseudoContent, .random)
        XCTAssertEqual(applied.pseudoPosition, .future, "the cell overrides the settings")
        XCTAssertEqual(list[2].settings(settings).pseudoPosition, .input, "a key left out keeps the setting")
        XCTAssertEqual(list[2].make(settings).needs.oracleContent, settings.pseudoCount)
        XCTAssertEqual(list[1].make(settings).needs.oracleContent, 0)
        // The design keys, on any policy that chooses by scores.
        let design = try PolicySpec(parsing: "lookahead-full[heads=adaptive, aggregation=max]")
        XCTAssertEqual(design, PolicySpec(.lookaheadFull, aggregation: .max, headBudgets: .adaptive))
        XCTAssertEqual(design.description, "lookahead-full[aggregation=max,heads=adaptive]")
        XCTAssertEqual(try PolicySpec(parsing: "dapq[heads=adaptive,content=suffix]").description, "dapq[content=suffix,heads=adaptive]")
        let designed = design.settings(settings)
        XCTAssertEqual(designed.headBudgets, .adaptive)
        XCTAssertEqual(designed.aggregation, .max)
        XCTAssertEqual(designed.headFloor, settings.adaptiveFloor)
        XCTAssertNil(list[0].settings(settings).headFloor, "uniform unless asked")
        for (bad, fragment) in [("snapkv[content=suffix]", "expected aggregation=…, heads=…"), ("dapq[content=bogus]", "unknown content 'bogus'"),
                                ("dapq[position=near]", "unknown position 'near'"), ("dapq[colour=red]", "expected content="),
                                ("dapq[content=suffix,content=prefix]", "at most once"), ("dapq[]", "empty cell"),
                                ("snapkv[heads=some]", "unknown heads 'some'"), ("laq[aggregation=sum]", "unknown aggregation 'sum'"),
                                ("streaming[heads=adaptive]", "only policies that choose by scores take a cell"),
                                ("dapq[content=suffix", "only policies that choose by scores take a cell"), ("fancy[content=suffix]", "unknown policy 'fancy'")] {
            XCTAssertThrowsError(try PolicySpec.parseList(bad), bad) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(bad): \(error)")
            }
        }
        XCTAssertThrowsError(try PolicySpec.parseList("dapq[content=suffix],dapq[content=suffix]")) { error in
            XCTAssertTrue("\(error)".contains("twice"), "\(error)")
        }
    }

    // MARK: Against the ablation, tiny model

    /// Each cell's DapQ scores, unpooled (kernel 1, mean over a KV head's query heads), are the ablation's
    /// importance P of the variant with the same content and position on the same prompt; the `oracle` content
    /// is the ablation's (the answer continued greedily to w tokens).
    func testEveryCellScoresTheKeysAsTheAblationVariant() throws {
        let (model, modelPath) = try tinyModel()
        let text = "Where matters more than what, says the paper here."
        let prompt = Array(text.utf8).map(Int.init)
        let w = 8, steps = 6, farOffset = 40
        let data = try Capture(model: model).run(prompt: prompt, options: CaptureOptions(steps: steps, window: w))
        let capturePath = path("c.h5")
        try CaptureWriter.write(data, metadata: try CaptureMetadata(model: model, modelPath: modelPath, promptText: text, chat: false,
                                                                   generatedText: model.tokenizer.decode(data.generatedTokens),
                                                                   threads: 1, commandLine: "test"),
                                toPath: capturePath, overwrite: false)
        var options = AblationOptions()
        options.pseudoCount = w
        options.kValues = [4, 8]
        options.farOffset = farOffset
        let ablation = try Ablation(model: model, modelPath: modelPath, options: options).run(capture: try CaptureFile(path: capturePath))

        var settings = CompressionSettings()
        settings.window = w
        settings.pseudoCount = w
        settings.poolKernel = 1
        settings.pseudoFarOffset = farOffset
        let cells = PseudoContent.allCases.flatMap { c in PseudoPosition.allCases.map { PolicySpec(.dapq, pseudoContent: c, pseudoPosition: $0) } }
        let compressor = try Compressor(model: model, settings: settings)
        let evidence = try compressor.evidence(prompt: prompt, policies: cells, maxTokens: steps)
        XCTAssertEqual(evidence.truthTokens, data.generatedTokens)
        XCTAssertEqual(evidence.oracleContent, ablation.oracleTokens, "oracle content: the answer continued greedily to w")
        XCTAssertEqual(evidence.oracleContent.count, w)

        let n = prompt.count
        var compared = 0
        for spec in cells {
            let variant = AblationVariant.pseudo(spec.pseudoContent!, spec.pseudoPosition!)
            let expected = try XCTUnwrap(ablation.result(variant)).importance
            let ours = try XCTUnwrap(try spec.make(settings).scores(evidence)).values
            XCTAssertEqual(ours.count, expected.count)
            var worst = 0.0
            for (a, b) in zip(ours, expected) { worst = max(worst, abs(a - Double(b)) / max(Double(b), 1e-3)) }
            XCTAssertLessThan(worst, 1e-5, "\(spec): relative difference from the ablation's \(variant.name)")
            compared += 1
        }
        XCTAssertEqual(compared, PseudoContent.allCases.count * PseudoPosition.allCases.count)
        // The position is really used: the same content at other positions scores differently.
        let future = try XCTUnwrap(try PolicySpec(.dapq, pseudoContent: .suffix, pseudoPosition: .future).make(settings).scores(evidence))
        let far = try XCTUnwrap(try PolicySpec(.dapq, pseudoContent: .suffix, pseudoPosition: .far).make(settings).scores(evidence))
        XCTAssertGreaterThan(zip(future.values, far.values).map { abs($0 - $1) }.max()!, 1e-4)
        XCTAssertEqual(future.promptLength, n)
    }

    /// Several cells in one run: each cell is its own row, named by its spec, and keeps what its own settings keep.
    func testSeveralCellsInOneRunAreNamedAndEachEqualsItsSettingsAlone() throws {
        let (model, _) = try tinyModel()
        let prompt = Array("A prompt long enough for a window of eight pseudo tokens, and some more text.".utf8).map(Int.init)
        var settings = CompressionSettings()
        settings.window = 8
        settings.pseudoCount = 8
        let specs = try PolicySpec.parseList("full,dapq[content=suffix,position=future],dapq[content=suffix,position=far],dapq[content=oracle,position=input],snapkv")
        let result = try Compressor(model: model, settings: settings).run(prompt: prompt, policies: specs, budgets: [.entries(20)], maxTokens: 4)
        XCTAssertEqual(result.cells.map(\.policy), specs.map(\.description))
        for (spec, cell) in zip(specs, result.cells) where spec.name == .dapq {
            let alone = try Compressor(model: model, settings: spec.settings(settings))
                .run(prompt: prompt, policies: [PolicySpec(.dapq)], budgets: [.entries(20)], maxTokens: 4).cells[0]
            XCTAssertEqual(cell.kept, alone.kept, "\(spec) equals dapq with its content and position as settings")
            XCTAssertEqual(cell.tokens, alone.tokens)
        }
        XCTAssertNotEqual(result.cells[1].kept, result.cells[2].kept, "future and far keep different entries")
    }
}
