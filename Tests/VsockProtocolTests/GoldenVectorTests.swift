import Foundation
import Testing
@testable import VsockProtocol

/// One entry of Protocol/golden-vectors.json.
struct GoldenVector: Decodable {
    struct ExpectedError: Decodable {
        var kind: String
        var code: String
        var session: UInt32?
    }
    var name: String
    var valid: Bool
    var roundtrip: Bool?
    var hex: String
    var header: JSONValue?
    var decoded: JSONValue?
    var canonical_hex: String?
    var payload_hex: String
    var error: ExpectedError?
}

struct GoldenFile: Decodable {
    var version: Int
    var limits: FrameLimits
    var vectors: [GoldenVector]

    static func load() throws -> GoldenFile {
        try JSONDecoder().decode(GoldenFile.self, from: RepoFiles.read("Protocol/golden-vectors.json"))
    }
}

@Suite("Golden vectors (Protocol/golden-vectors.json)")
struct GoldenVectorTests {
    let file: GoldenFile

    init() throws { file = try GoldenFile.load() }

    @Test func fileMatchesThisBuild() {
        #expect(file.version == ProtocolConstants.version)
        #expect(file.limits == .default)
        #expect(file.vectors.count >= 25)
        #expect(Set(file.vectors.map(\.name)).count == file.vectors.count, "vector names are unique")
    }

    @Test func everyMessageTypeHasAValidVector() {
        let types = Set(file.vectors.filter(\.valid).compactMap { $0.header?["type"]?.stringValue })
        #expect(types == Message.knownTypes)
        let payloadVectors = file.vectors.filter { $0.valid && !$0.payload_hex.isEmpty }
        #expect(payloadVectors.count >= 3)
    }

    @Test func theSwiftTableCoversExactlyTheValidVectors() {
        #expect(Set(file.vectors.filter(\.valid).map(\.name)) == Set(Samples.golden.keys))
    }

    /// hex → message: decoding the bytes (in one piece) gives exactly the expected frame and nothing else.
    @Test func decodingTheBytesGivesTheMessage() throws {
        for v in file.vectors where v.valid {
            let bytes = try #require(Hex.decode(v.hex), "\(v.name)")
            let expected = try #require(Samples.golden[v.name], "\(v.name)")
            let (results, decoder) = decodeAll(bytes)
            #expect(results == [.frame(expected)], "\(v.name)")
            #expect(decoder.bufferedByteCount == 0, "\(v.name)")
            #expect(Hex.encode(expected.payload) == v.payload_hex, "\(v.name)")
        }
    }

    /// message → hex: encoding the expected message gives exactly the vector's bytes (canonical form).
    @Test func encodingTheMessageGivesTheBytes() throws {
        for v in file.vectors where v.valid {
            let expected = try #require(Samples.golden[v.name], "\(v.name)")
            let want = v.roundtrip == true ? v.hex : v.canonical_hex
            #expect(Hex.encode(expected.encoded()) == want, "\(v.name)")
        }
    }

    /// The `header` object of the vector decodes to the same message, so the JSON shown is the meaning.
    @Test func theHeaderObjectDecodesToTheMessage() throws {
        for v in file.vectors where v.valid {
            let expected = try #require(Samples.golden[v.name], "\(v.name)")
            let header = try #require(v.header, "\(v.name)")
            #expect(try Message.decode(header: header.jsonBytes()) == expected.message, "\(v.name)")
            if let decoded = v.decoded {
                #expect(try Message.decode(header: decoded.jsonBytes()) == expected.message, "\(v.name)")
            }
        }
    }

    /// Invalid vectors are refused with the documented code and session, and the decoder then keeps going:
    /// a valid frame appended afterwards decodes (after the declared bytes of an oversized frame are skipped).
    @Test func invalidVectorsAreRefusedWithTheirCodeAndTheConnectionSurvives() throws {
        let ping = Frame(.ping(Ping(id: 99)))
        var seen = 0
        for v in file.vectors where !v.valid {
            let bytes = try #require(Hex.decode(v.hex), "\(v.name)")
            let expected = try #require(v.error, "\(v.name)")
            var decoder = FrameDecoder()
            decoder.append(bytes)
            let result = decoder.next()
            let error = try #require(result?.error, "\(v.name): \(String(describing: result))")
            #expect(error.code.rawValue == expected.code, "\(v.name): \(error)")
            #expect(error.session == expected.session, "\(v.name): \(error)")
            #expect((expected.kind == "oversized") == (result?.isOversized == true), "\(v.name)")
            #expect(ErrorCode.allDefined.contains(error.code), "\(v.name)")
            if expected.kind == "oversized" {
                #expect(bytes.count == ProtocolConstants.prefixBytes, "\(v.name): oversized vectors are prefixes")
                let header = UInt64(bytes[0]) << 24 | UInt64(bytes[1]) << 16 | UInt64(bytes[2]) << 8 | UInt64(bytes[3])
                let payload = UInt64(bytes[4]) << 24 | UInt64(bytes[5]) << 16 | UInt64(bytes[6]) << 8 | UInt64(bytes[7])
                let rest = header + payload
                #expect(decoder.bufferedByteCount == 0)
                guard rest <= 4 << 20 else { continue }  // the 4 GiB cases are fed in LimitsTests
                decoder.append([UInt8](repeating: 0x41, count: Int(rest)))
                #expect(decoder.next() == nil, "\(v.name): the declared bytes are skipped, not decoded")
            }
            decoder.append(ping.encoded())
            #expect(decoder.next() == .frame(ping), "\(v.name): the decoder recovers")
            #expect(decoder.next() == nil)
            // The error frame that answers it is itself a valid, encodable message.
            let answer = Frame(.error(error.errorMessage))
            #expect(decodeAll(answer.encoded()).results == [.frame(answer)])
            seen += 1
        }
        #expect(seen >= 10)
        let codes = Set(file.vectors.compactMap { $0.error?.code })
        #expect(codes == ["frame_too_large", "malformed_header", "unknown_message", "invalid_message"])
    }

    /// Every golden frame, valid or not, concatenated and fed one byte at a time gives the same results as
    /// each vector alone (oversized prefixes are left out: they swallow what follows).
    @Test func allVectorsAsOneStreamFedByteByByte() throws {
        var stream: [UInt8] = []
        var expected: [DecodedFrame] = []
        for v in file.vectors where v.error?.kind != "oversized" {
            let bytes = try #require(Hex.decode(v.hex))
            stream += bytes
            expected += decodeAll(bytes).results
        }
        var rng = SplitMix64(seed: 1)
        let (results, decoder) = decodeAll(stream, chunkSize: { _ in 1 }, rng: &rng)
        #expect(results == expected)
        #expect(results.count == file.vectors.count - file.vectors.filter { $0.error?.kind == "oversized" }.count)
        #expect(decoder.bufferedByteCount == 0)
    }
}
