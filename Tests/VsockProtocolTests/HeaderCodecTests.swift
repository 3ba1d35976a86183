import Foundation
import Testing
@testable import VsockProtocol

/// The protocol's own header codec against Foundation's, which it replaced, and against the messages' `Codable`
/// conformances (CodableHeaderEncoder.swift, CodableHeaderDecoder.swift): the bytes the hand-coded headers write are
/// the bytes `JSONEncoder` (sorted keys, slashes unescaped) wrote, their reading of them is `JSONDecoder`'s, the
/// one-pass stdio path agrees with the rest, and a damaged header gives the same error.
@Suite("Header codec (no Foundation) against Foundation's JSON")
struct HeaderCodecTests {
    static let foundation: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func generalEncoding(_ message: Message) throws -> [UInt8] { try HeaderEncoder.encode(message) }

    @Test func everyGoldenAndRandomMessageEncodesAsJSONEncoderDid() throws {
        var messages = Samples.golden.values.map(\.message)
        var rng = SplitMix64(seed: 0x5EED_C0DE)
        for _ in 0..<3000 { messages.append(Samples.randomFrame(&rng).message) }
        for message in messages {
            let ours = message.encodedHeader()
            let theirs = Array(try Self.foundation.encode(message))
            #expect(ours == theirs, "\(message.type): \(String(decoding: ours, as: UTF8.self)) vs \(String(decoding: theirs, as: UTF8.self))")
            #expect(try Self.generalEncoding(message) == theirs)
            // And back, by hand, through the Codable reference and through Foundation's decoder.
            let tree = try #require(HeaderValue.parse(ours))
            #expect(try Message.decode(parsed: tree) == message)
            #expect(try HeaderDecoder.decode(Message.self, from: tree) == message)
            #expect(try JSONDecoder().decode(Message.self, from: Data(ours)) == message)
        }
    }

    /// Every type of message, coded by hand, against the `Codable` reference: the same bytes, and for every damaged
    /// header (a field removed, or set to a value of each other kind, or a nested object or array damaged) the same
    /// message or the same error: its kind and its `invalid_message` text.
    @Test func handCodedMessagesMatchTheCodableReferenceEvenWhenDamaged() throws {
        var rng = SplitMix64(seed: 0x407)
        var types = Set<String>()
        let replacements: [HeaderValue] = [.null, .bool(true), .number("-1"), .number("1.5"), .number("99999999999999999999"),
                                           .number("7"), .string("x"), .array([]), .array([.number("1")]), .object([]),
                                           .object([.init(key: "k", value: .number("1"))])]
        for _ in 0..<4000 {
            let message = Samples.randomFrame(&rng).message
            types.insert(message.type)
            let hand = message.encodedHeader()
            #expect(hand == (try HeaderEncoder.encode(message)), "\(message.type)")
            guard case .object(let members)? = HeaderValue.parse(hand) else { Issue.record("unparsable"); continue }
            for (n, member) in members.enumerated() where member.key != "type" {
                var variants: [[HeaderValue.Member]] = [members.enumerated().filter { $0.offset != n }.map(\.element)]
                for value in replacements {
                    var changed = members
                    changed[n].value = value
                    variants.append(changed)
                }
                if case .object(let inner) = member.value, let first = inner.first {
                    var changed = members
                    changed[n].value = .object(Array(inner.dropFirst()))
                    variants.append(changed)
                    changed[n].value = .object([.init(key: first.key, value: .string("x"))] + inner.dropFirst())
                    variants.append(changed)
                }
                if case .array(let items) = member.value, !items.isEmpty {
                    var changed = members
                    changed[n].value = .array(items + [.object([])])
                    variants.append(changed)
                    if case .object(let element) = items[0], let first = element.first {
                        changed[n].value = .array([.object([.init(key: first.key, value: .null)] + element.dropFirst())])
                        variants.append(changed)
                    }
                }
                for variant in variants {
                    let tree = HeaderValue.object(variant)
                    let reference = Self.referenceOutcome { try HeaderDecoder.decode(Message.self, from: tree) }
                    let ours = Self.handOutcome(tree)
                    #expect(reference == ours, "\(message.type).\(member.key)")
                }
            }
        }
        #expect(types == Message.knownTypes, "types never drawn: \(Message.knownTypes.subtracting(types))")
    }

    /// A decoding's result: the message (compared by value: a dictionary's description depends on its
    /// history), or the error's kind and its `invalid_message` text.
    enum Outcome: Equatable {
        case message(Message)
        case error(String)
    }

    /// Through the `Codable` reference, with the text the codec gave `invalid_message` when that was its path.
    static func referenceOutcome(_ body: () throws -> Message) -> Outcome {
        do { return .message(try body()) } catch let error as DecodingError {
            func at(_ c: DecodingError.Context) -> String {
                "bad value at \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\": \(c.debugDescription.prefix(120))"
            }
            switch error {
            case .keyNotFound(let key, _): return .error("keyNotFound missing field \"\(key.stringValue)\"")
            case .typeMismatch(_, let c): return .error("typeMismatch \(at(c))")
            case .valueNotFound(_, let c): return .error("valueNotFound \(at(c))")
            case .dataCorrupted(let c): return .error("dataCorrupted \(at(c))")
            @unknown default: return .error("\(error)")
            }
        } catch {
            return .error("other \(error)")
        }
    }

    static func handOutcome(_ tree: HeaderValue) -> Outcome {
        do throws(HeaderMessageError) {
            guard let message = try Message.decode(parsed: tree) else { return .error("not a message") }
            return .message(message)
        } catch {
            guard case .invalid(_, let reason) = error else { return .error("other \(error)") }
            switch reason {
            case .keyNotFound: return .error("keyNotFound \(reason.reason)")
            case .typeMismatch: return .error("typeMismatch \(reason.reason)")
            case .valueNotFound: return .error("valueNotFound \(reason.reason)")
            case .dataCorrupted: return .error("dataCorrupted \(reason.reason)")
            }
        }
    }

    @Test func everyASCIIAndSomeUnicodeCharacterIsEscapedAsJSONEncoderDid() throws {
        var scalars: [Unicode.Scalar] = (0...0x7F).compactMap { Unicode.Scalar(UInt32($0)) }
        scalars += ["\u{80}", "\u{A0}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{FFFF}", "\u{10000}", "\u{1F600}", "\u{10FFFF}"]
        for scalar in scalars {
            let text = "a\(Character(scalar))b"
            let message = Message.exec(ExecRequest(session: 1, argv: [text]))
            let ours = try Self.generalEncoding(message)
            #expect(ours == Array(try Self.foundation.encode(message)), "U+\(String(scalar.value, radix: 16))")
            let decoded = try Message.decode(header: ours)
            #expect(decoded == message, "U+\(String(scalar.value, radix: 16))")
        }
    }

    @Test func escapesInReceivedStringsDecodeAsJSONDecoderDoes() throws {
        let header = #"{"argv":["\u00e9\ud83d\ude00\/\b\f\n\r\t\"\\\u0000"],"session":1,"type":"exec"}"#
        let ours = try Message.decode(header: Array(header.utf8))
        let theirs = try JSONDecoder().decode(Message.self, from: Data(header.utf8))
        #expect(ours == theirs)
        guard case .exec(let request) = ours else { Issue.record("not an exec"); return }
        #expect(request.argv == ["é😀/\u{08}\u{0C}\n\r\t\"\\\u{00}"])
    }

    @Test func theStdioPathWritesWhatTheGeneralPathWrites() throws {
        for session: UInt32 in [0, 1, 9, 10, 4_294_967_295, 123_456] {
            let ref = SessionRef(session: session)
            for message in [Message.stdin(ref), .stdout(ref), .stderr(ref),
                            .window(WindowUpdate(session: session, bytes: 0)),
                            .window(WindowUpdate(session: session, bytes: UInt32.max))] {
                let fast = try #require(StdioHeader.encode(message))
                #expect(fast == (try Self.generalEncoding(message)))
                let decoded = fast.withUnsafeBytes { StdioHeader.decode($0) }
                #expect(decoded == message)
            }
        }
        #expect(StdioHeader.encode(.exitAck(SessionRef(session: 1))) == nil)
    }

    /// The one-pass reader takes only the canonical bytes; every other spelling goes to the general path, which
    /// gives the same message (or its error).
    @Test func theStdioPathTakesOnlyCanonicalBytes() throws {
        let declined = [
            #"{"session":01,"type":"stdout"}"#,            // leading zero: malformed_header
            #"{"session":4294967296,"type":"stdout"}"#,    // out of range: invalid_message
            #"{"session":1.0,"type":"stdout"}"#,
            #"{"session": 1,"type":"stdout"}"#,
            #"{"type":"stdout","session":1}"#,
            #"{"session":1,"type":"stdout","x":2}"#,
            #"{"session":1,"type":"stdout"} "#,
            #"{"session":1,"type":"stdoutx"}"#,
            #"{"session":-1,"type":"stdin"}"#,
            #"{"bytes":1,"session":2,"type":"stdout"}"#,
            #"{"session":2,"type":"window"}"#,
            #"{"bytes":1,"session":2,"type":"window""#,
            #"{"session":12345678901,"type":"stdout"}"#,
        ]
        for text in declined {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { StdioHeader.decode($0) } == nil, "\(text)")
            // Whatever the general path says, Message.decode says the same (a leading space is skipped by the
            // general path and never matches the one-pass reader).
            let general = Result { () throws(ProtocolError) in try Message.decode(header: [0x20] + bytes) }
            let full = Result { () throws(ProtocolError) in try Message.decode(header: bytes) }
            #expect(Self.outcome(general) == Self.outcome(full), "\(text)")
        }
        #expect(try Message.decode(header: Array(#"{"session":1,"type":"stdout","x":2}"#.utf8)) == .stdout(SessionRef(session: 1)))
        #expect(throws: ProtocolError.self) { try Message.decode(header: Array(#"{"session":01,"type":"stdout"}"#.utf8)) }
    }

    /// The message, or the error's code and session (its text names byte offsets).
    static func outcome(_ result: Result<Message, ProtocolError>) -> String {
        switch result {
        case .success(let message): "\(message)"
        case .failure(let error): "\(error.code) \(String(describing: error.session))"
        }
    }

    @Test func integersAreExactOrRefused() throws {
        func int<I: HeaderInteger>(_ t: I.Type, _ text: String) -> I? {
            let hand = try? I(header: .number(text), at: [])
            #expect(hand == (try? HeaderDecoder.integer(t, .number(text), [])), "\(text) as \(t)")
            return hand
        }
        #expect(int(UInt32.self, "4294967295") == UInt32.max)
        #expect(int(UInt32.self, "4294967296") == nil)
        #expect(int(Int32.self, "-2147483648") == Int32.min)
        #expect(int(Int32.self, "-2147483649") == nil)
        #expect(int(Int64.self, "-9223372036854775808") == Int64.min)
        #expect(int(UInt64.self, "18446744073709551615") == UInt64.max)
        #expect(int(UInt64.self, "18446744073709551616") == nil)
        #expect(int(UInt32.self, "-1") == nil)
        #expect(int(UInt32.self, "-0") == 0)
        #expect(int(UInt32.self, "2.0") == 2)       // as JSONDecoder; Message.decode refuses it in a field
        #expect(int(UInt32.self, "1e2") == 100)
        #expect(int(UInt32.self, "2.5") == nil)
        #expect(int(UInt32.self, "1e400") == nil)
        #expect((try? UInt32(header: .string("1"), at: [])) == nil)
        #expect((try? HeaderDecoder.integer(UInt32.self, .string("1"), [])) == nil)
    }

    @Test func base64MatchesFoundationAndRefusesTheRest() {
        var rng = SplitMix64(seed: 64)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let ours = Base64.encode(bytes)
            #expect(ours == Data(bytes).base64EncodedString())
            #expect(Base64.decode(ours) == bytes)
        }
        for bad in ["A", "AB", "ABC", "AB=C", "A===", "====", "AB==AB==", "QR==", "QUI=QUJD", "QU I=", "QUJD\n", "QUJ*"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("QQ==") == Array("A".utf8))
    }

    @Test func parsingIsTotalOnTruncatedAndDamagedHeaders() {
        let header = Array(#"{"argv":["a\u00e9",{"k":[1,-2.5e3,true,false,null]}],"session":1,"type":"exec"}"#.utf8)
        #expect(HeaderValue.parse(header) != nil)
        for cut in 0..<header.count {
            #expect(HeaderValue.parse(Array(header[..<cut])) == nil)
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            var damaged = header
            damaged[rng.below(damaged.count)] = UInt8(truncatingIfNeeded: rng.next())
            _ = HeaderValue.parse(damaged)  // must not trap
            _ = try? Message.decode(header: damaged)
        }
    }
}
