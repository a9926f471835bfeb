import CHDF5
import Foundation
import XCTest

@testable import Probe

final class HDF5Tests: TemporaryDirectoryTestCase {
    func testNumericDatasetsRoundTrip() throws {
        let file = try HDF5File.create(path("numeric.h5"))
        let floats = (0..<24).map { Float($0) * 0.5 }
        try file.createDataset("prompt/rot_k", values: floats, shape: [2, 3, 4], description: "floats")
        try file.createDataset("ints/i32", values: [Int32](arrayLiteral: -1, 2, 3), shape: [3], description: "int32")
        try file.createDataset("ints/i64", values: [Int64.max, Int64.min], shape: [2], description: "int64")
        try file.createDataset("f64", values: [Double.pi], shape: [], description: "scalar double")
        try file.createDataset("empty", values: [Float](), shape: [0, 4], description: "empty")
        XCTAssertThrowsError(try file.createDataset("bad", values: [Float(1)], shape: [2], description: ""))
        file.close()

        let reopened = try HDF5File.open(path("numeric.h5"))
        let rotK = try reopened.openDataset("prompt/rot_k")
        XCTAssertEqual(rotK.name, "/prompt/rot_k")
        XCTAssertEqual(try rotK.shape, [2, 3, 4])
        XCTAssertEqual(try rotK.elementType, .float32)
        XCTAssertEqual(try rotK.read(Float.self), floats)
        XCTAssertEqual(try rotK.stringAttribute("description"), "floats")
        XCTAssertEqual(try reopened.openDataset("ints/i32").read(Int32.self), [-1, 2, 3])
        XCTAssertEqual(try reopened.openDataset("ints/i32").elementType, .int32)
        XCTAssertEqual(try reopened.openDataset("ints/i64").read(Int64.self), [Int64.max, Int64.min])
        XCTAssertEqual(try reopened.openDataset("ints/i64").elementType, .int64)
        XCTAssertEqual(try reopened.openDataset("f64").shape, [])
        XCTAssertEqual(try reopened.openDataset("f64").elementType, .float64)
        XCTAssertEqual(try reopened.openDataset("f64").read(Double.self), [Double.pi])
        XCTAssertEqual(try reopened.openDataset("empty").shape, [0, 4])
        XCTAssertEqual(try reopened.openDataset("empty").read(Float.self), [])
        XCTAssertEqual(try reopened.openDataset("ints/i32").read(Double.self), [-1, 2, 3], "HDF5 converts on read")
    }

    func testChunkShapeKeepsTrailingDimensionsWithinOneMebibyte() {
        XCTAssertEqual(hdf5ChunkShape([32, 8, 4096, 128], elementSize: 4), [1, 1, 2048, 128])
        XCTAssertEqual(hdf5ChunkShape([32, 8, 512, 64], elementSize: 4), [1, 8, 512, 64])
        XCTAssertEqual(hdf5ChunkShape([10, 64], elementSize: 4), [10, 64])
        XCTAssertEqual(hdf5ChunkShape([3, 1 << 20], elementSize: 4), [1, 262_144])
    }

    func testStringDatasets() throws {
        let file = try HDF5File.create(path("strings.h5"))
        try file.createStringDataset("text/prompt", value: "Grüße, 世界", description: "prompt text")
        try file.createStringDataset("text/pieces", values: ["a", "", "ß€"], description: "pieces")
        XCTAssertEqual(try file.openDataset("text/prompt").readStrings(), ["Grüße, 世界"])
        XCTAssertEqual(try file.openDataset("text/prompt").shape, [])
        XCTAssertEqual(try file.openDataset("text/pieces").readStrings(), ["a", "", "ß€"])
        XCTAssertEqual(try file.openDataset("text/pieces").elementType, .string)
    }

    func testAttributesRoundTrip() throws {
        let file = try HDF5File.create(path("attributes.h5"))
        let group = try file.createGroup("variants/content_position")
        let dataset = try group.createDataset("x", values: [Float(1)], shape: [1], description: "one")
        for object in [file, group, dataset] as [any HDF5Object] {
            try object.setAttribute("schema", "dapq-probe/capture ✓")
            try object.setAttribute("empty", "")
            try object.setAttribute("n_layers", Int64(32))
            try object.setAttribute("count", 7)
            try object.setAttribute("rope_base", 10000.5)
            try object.setAttribute("layers32", [Int32](arrayLiteral: 1, 2, 3))
            try object.setAttribute("layers64", [Int64](arrayLiteral: 4, 5))
            try object.setAttribute("weights", [0.25, 0.75])
            try object.setAttribute("n_layers", Int64(33))  // replaces
        }
        file.close()

        let reopened = try HDF5File.open(path("attributes.h5"), mode: .readWrite)
        let objects: [any HDF5Object] = [
            reopened, try reopened.openGroup("variants/content_position"),
            try reopened.openDataset("variants/content_position/x"),
        ]
        for object in objects {
            XCTAssertEqual(try object.stringAttribute("schema"), "dapq-probe/capture ✓")
            XCTAssertEqual(try object.stringAttribute("empty"), "")
            XCTAssertEqual(try object.attribute("n_layers", as: Int64.self), 33)
            XCTAssertEqual(try object.attribute("count", as: Int.self), 7)
            XCTAssertEqual(try object.attribute("rope_base", as: Double.self), 10000.5)
            XCTAssertEqual(try object.arrayAttribute("layers32", as: Int32.self), [1, 2, 3])
            XCTAssertEqual(try object.arrayAttribute("layers64", as: Int64.self), [4, 5])
            XCTAssertEqual(try object.arrayAttribute("weights", as: Double.self), [0.25, 0.75])
            XCTAssertTrue(try object.hasAttribute("schema"))
            XCTAssertFalse(try object.hasAttribute("missing"))
            XCTAssertThrowsError(try object.attribute("layers32", as: Int32.self))
        }
        XCTAssertEqual(try reopened.attributeNames(),
                       ["count", "empty", "layers32", "layers64", "n_layers", "rope_base", "schema", "weights"])
        XCTAssertEqual(try objects[2].attributeNames().first, "count")
        XCTAssertTrue(try objects[2].attributeNames().contains("description"))
    }

    func testGroupsMembersAndExistence() throws {
        let file = try HDF5File.create(path("groups.h5"))
        try file.createGroup("prompt/rot_k_parts")
        try file.createDataset("prompt/rot_k", values: [Float(0)], shape: [1], description: "")
        XCTAssertTrue(file.exists("prompt"))
        XCTAssertTrue(file.exists("/prompt/rot_k"))
        XCTAssertFalse(file.exists("prompt/missing"))
        XCTAssertFalse(file.exists("missing/deeper/still"))
        XCTAssertFalse(file.exists("prompt/rot_k/not_a_group"))
        XCTAssertEqual(try file.members(), [HDF5Member(name: "prompt", kind: .group)])
        XCTAssertEqual(try file.openGroup("prompt").members(), [
            HDF5Member(name: "rot_k", kind: .dataset), HDF5Member(name: "rot_k_parts", kind: .group),
        ])
        XCTAssertThrowsError(try file.openGroup("nope"))
    }

    func testCompoundTable() throws {
        let file = try HDF5File.create(path("table.h5"))
        try file.createTable("summary", columns: [
            .string("variant", ["content_position", "random_late", "ü"]),
            .int64("k", [1, 2, 3]),
            .double("recall", [0.5, 0.25, 1]),
        ], description: "summary table")
        file.close()
        let table = try HDF5File.open(path("table.h5")).openDataset("summary")
        XCTAssertEqual(try table.elementType, .compound)
        XCTAssertEqual(try table.shape, [3])
        XCTAssertEqual(try table.columnNames(), ["variant", "k", "recall"])
        XCTAssertEqual(try table.readStringColumn("variant"), ["content_position", "random_late", "ü"])
        XCTAssertEqual(try table.readColumn("k", as: Int64.self), [1, 2, 3])
        XCTAssertEqual(try table.readColumn("recall", as: Double.self), [0.5, 0.25, 1])
        XCTAssertThrowsError(try table.readColumn("missing", as: Double.self)) { error in
            XCTAssertTrue(String(describing: error).contains("column 'missing' of '/summary'"), "\(error)")
        }
        XCTAssertThrowsError(try HDF5File.create(path("bad.h5")).createTable(
            "t", columns: [.int64("a", [1]), .double("b", [])], description: ""))
    }

    func testResizableAppend() throws {
        let file = try HDF5File.create(path("append.h5"))
        let rows = try file.createResizableDataset("cells/results", of: Double.self, rowShape: [3],
                                                   description: "per-cell results")
        let values = try file.createResizableDataset("cells/ids", of: Int64.self, chunkRows: 2, description: "ids")
        XCTAssertEqual(try rows.shape, [0, 3])
        try rows.append([1, 2, 3])
        try rows.append([4, 5, 6, 7, 8, 9])
        for id in Int64(0)..<5 { try values.append([id]) }
        try rows.flush()
        XCTAssertThrowsError(try rows.append([1.0]))
        XCTAssertEqual(try rows.shape, [3, 3])
        XCTAssertEqual(try rows.read(Double.self), [1, 2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(try values.read(Int64.self), [0, 1, 2, 3, 4])
        file.close()
        rows.close()
        values.close()
        XCTAssertEqual(try HDF5File.open(path("append.h5")).openDataset("cells/results").shape, [3, 3])
    }

    func testDimensionScalesAttached() throws {
        let file = try HDF5File.create(path("scales.h5"))
        try file.makeDimensionScale(name: "layer", values: [Int32](arrayLiteral: 0, 1), description: "layer index")
        try file.makeDimensionScale(name: "kv_head", values: [Int32](arrayLiteral: 0, 1, 2), description: "KV head")
        try file.makeDimensionScale(name: "d_head", size: 4, description: "head dimension")
        let tensor = try file.createDataset("prompt/rot_k", values: [Float](repeating: 1, count: 24),
                                            shape: [2, 3, 4], description: "rotated keys")
        try tensor.attachScales(["layer", "kv_head", "d_head"])
        XCTAssertThrowsError(try tensor.attachScales(["layer"]))
        XCTAssertThrowsError(try tensor.attachScales(["layer", "kv_head", "nope"]))
        XCTAssertEqual(try tensor.dimensionLabels(), ["layer", "kv_head", "d_head"])
        for (axis, name) in ["layer", "kv_head", "d_head"].enumerated() {
            let scale = try file.openDataset(name)
            XCTAssertGreaterThan(H5DSis_scale(scale.id), 0)
            XCTAssertGreaterThan(H5DSis_attached(tensor.id, scale.id, UInt32(axis)), 0)
        }
        XCTAssertEqual(try file.openDataset("layer").read(Int32.self), [0, 1])
    }

    func testOpeningANonHDF5FileNamesTheFile() throws {
        let bogus = path("not-hdf5.h5")
        try Data("definitely not HDF5".utf8).write(to: URL(fileURLWithPath: bogus))
        XCTAssertThrowsError(try HDF5File.open(bogus)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains(bogus), message)
            XCTAssertTrue((error as? HDF5Error)?.message.contains("signature") ?? false, message)
        }
        XCTAssertThrowsError(try HDF5File.open(path("missing.h5"), mode: .readWrite)) { error in
            XCTAssertTrue(String(describing: error).contains("missing.h5"))
        }
    }
}
