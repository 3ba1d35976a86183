import Foundation
import Testing
@testable import VsockProtocol

/// PROTOCOL.md §2 "Strict JSON": what `Message.decode` refuses that a lenient JSON parser would accept.
@Suite("Strict headers")
struct StrictHeaderTests {
    private func code(_ text: String) -> (ErrorCode, SessionID?)? {
        do { _ = try Message.decode(header: Array(text.utf8)); return nil } catch { return (error.code, error.session) }
    }

    /// "code session" of the error decoding `text` ("-" for no session), or "ok".
    private func refusal(_ text: String) -> String {
        guard let (code, session) = code(text) else { return "ok" }
        return "\(code) \(session.map { String($0) } ?? "-")"
    }

    @Test func fractionsInFieldsAreInvalidNotTruncated() {
        #expect(refusal(#"{"type":"ping","id":123456789012345678.9}"#) == "invalid_message -")
        #expect(refusal(#"{"type":"ping","id":2.0}"#) == "invalid_message -")
        #expect(refusal(#"{"type":"ping","id":1e2}"#) == "invalid_message -")
        #expect(refusal(#"{"type":"ping","id":1E+2}"#) == "invalid_message -")
        #expect(refusal(#"{"type":"window","session":3,"bytes":10.0}"#) == "invalid_message 3")
        // A fractional session is not a valid uint32, so the error names no session.
        #expect(refusal(#"{"type":"exit_ack","session":3.0}"#) == "invalid_message -")
        // Nested fields count too.
        let exec = #"{"type":"exec","session":4,"argv":["x"],"rlimits":[{"resource":"nofile","soft":1,"hard":2e1}]}"#
        #expect(refusal(exec) == "invalid_message 4")
        let hello = #"{"type":"hello","version":1,"role":"host","capabilities":[],"limits":{"max_header":65536.0,"max_payload":1},"window":1}"#
        #expect(refusal(hello) == "invalid_message -")
    }

    @Test func fractionsInUnknownFieldsAreIgnored() throws {
        #expect(try Message.decode(header: Array(#"{"type":"ping","id":7,"future":1.5}"#.utf8)) == .ping(Ping(id: 7)))
        let nested = #"{"type":"hello","version":1,"role":"host","capabilities":[],"limits":{"max_header":1,"max_payload":2,"ratio":0.5},"window":1}"#
        guard case .hello = try Message.decode(header: Array(nested.utf8)) else { Issue.record("not hello"); return }
        // An unknown type with a fraction stays unknown_message.
        #expect(refusal(#"{"type":"v2","session":5,"x":1.5}"#) == "unknown_message 5")
    }

    @Test func notStrictJSONIsMalformed() {
        let cases = [
            #"{"type":"ping","id":00012}"#, #"{"type":"ping","id":-01}"#, #"{"type":"ping","id":1.}"#,
            #"{"type":"ping","id":.5}"#, #"{"type":"ping","id":1e}"#, #"{"type":"ping","id":+1}"#,
            #"{"type":"ping","id":0x10}"#, #"{"type":"ping","id":1,}"#, #"{"type":"ping" "id":1}"#,
            #"{"type":'ping',"id":1}"#, #"{type:"ping","id":1}"#, #"{"type":"ping","id":1} x"#,
            #"{"type":"ping","id":1}{}"#, #"{"type":"p\ing","id":1}"#, #"{"type":"p\u12","id":1}"#,
            #"{"type":"\ud800","id":1}"#, #"{"type":"\udc00x","id":1}"#, "{\"type\":\"a\u{1}b\",\"id\":1}",
            #"{"type":"ping","id":NaN}"#, #"{"type":"ping","ok":tru}"#, #"{"type":"ping","id":1"#,
        ]
        for text in cases {
            #expect(code(text)?.0 == .malformedHeader, "\(text)")
        }
        #expect(code("\u{FEFF}{\"type\":\"ping\",\"id\":1}")?.0 == .malformedHeader, "a byte-order mark")
    }

    @Test func invalidUTF8IsMalformed() {
        let bad: [[UInt8]] = [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
                              [0xF8], [0x80], [0xE2, 0x82]]
        for seq in bad {
            let header = Array(#"{"type":"ping","id":1,"x":""#.utf8) + seq + Array(#""}"#.utf8)
            #expect(throws: ProtocolError.self) { try Message.decode(header: header) }
            do { _ = try Message.decode(header: header) } catch { #expect(error.code == .malformedHeader, "\(seq)") }
        }
        let good = Array(#"{"type":"ping","id":1,"x":"é✓😀"}"#.utf8)
        #expect((try? Message.decode(header: good)) == .ping(Ping(id: 1)))
    }

    @Test func duplicateKeysAreMalformed() {
        #expect(code(#"{"type":"ping","id":1,"id":2}"#)?.0 == .malformedHeader)
        #expect(code(#"{"type":"ping","type":"ping","id":1}"#)?.0 == .malformedHeader)
        // The same key written with an escape is the same key.
        #expect(code(#"{"type":"ping","\u0069d":1,"id":2}"#)?.0 == .malformedHeader)
        // Inside nested objects, and in unknown fields.
        #expect(code(#"{"type":"ping","id":1,"x":{"a":1,"a":1}}"#)?.0 == .malformedHeader)
        // Many keys (the hashed path): the duplicate is the 40th.
        let keys = (0..<39).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(code(#"{"type":"ping","id":1,"# + keys + #","k7":0}"#)?.0 == .malformedHeader)
        #expect((try? Message.decode(header: Array((#"{"type":"ping","id":1,"# + keys + "}").utf8))) == .ping(Ping(id: 1)))
        // The same key in sibling objects is fine.
        #expect((try? Message.decode(header: Array(#"{"type":"ping","id":1,"a":[{"k":1},{"k":2}],"b":{"k":3}}"#.utf8)))
                == .ping(Ping(id: 1)))
    }

    @Test func escapesWhitespaceAndNestingThatAreValid() throws {
        let text = " \t\r\n{ \"type\" : \"p\\u0069ng\" ,\"id\":\t18446744073709551615 , \"x\":[true,false,null,-0,\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\ud83d\\ude00\"] } \n"
        #expect(try Message.decode(header: Array(text.utf8)) == .ping(Ping(id: UInt64.max)))
        let deep = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(try Message.decode(header: Array((#"{"type":"ping","id":1,"x":"# + deep + "}").utf8)) == .ping(Ping(id: 1)))
        let tooDeep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        #expect(code(#"{"type":"ping","id":1,"x":"# + tooDeep + "}")?.0 == .malformedHeader)
    }
}
