import Foundation
import Testing
@testable import VsockProtocol

@Suite("Messages")
struct MessageTests {
    /// One frame per message type, through encode → decode.
    @Test(arguments: 0..<Samples.typeCount)
    func everyMessageTypeRoundTrips(typeIndex: Int) {
        var rng = SplitMix64(seed: UInt64(typeIndex) &* 7919)
        for _ in 0..<300 {
            let frame = Samples.randomFrame(&rng, typeIndex: typeIndex)
            let (results, decoder) = decodeAll(frame.encoded())
            #expect(results == [.frame(frame)], "\(frame.message)")
            #expect(decoder.bufferedByteCount == 0)
            // The type name in the header is the one `type` reports, and is a known type.
            #expect(Message.knownTypes.contains(frame.message.type))
            #expect(String(decoding: frame.message.encodedHeader(), as: UTF8.self)
                        .contains("\"type\":\"\(frame.message.type)\""))
        }
    }

    @Test func theRandomGeneratorCoversEveryKnownType() {
        var rng = SplitMix64(seed: 3)
        let types = Set((0..<Samples.typeCount).map { Samples.randomFrame(&rng, typeIndex: $0).message.type })
        #expect(types == Message.knownTypes)
        #expect(Message.knownTypes.count == 34)
    }

    @Test func onlyStdioCarriesAPayload() {
        var rng = SplitMix64(seed: 4)
        for i in 0..<Samples.typeCount {
            let m = Samples.randomFrame(&rng, typeIndex: i).message
            #expect(m.carriesPayload == ["stdin", "stdout", "stderr"].contains(m.type), "\(m.type)")
            #expect(m.isControl == !["stdin", "stdout", "stderr", "stdin_close", "exit", "exit_ack", "frozen"].contains(m.type), "\(m.type)")
        }
    }

    @Test func sessionIsReportedForSessionMessages() {
        let sessionless: Set<String> = ["hello", "sessions", "ping", "pong", "set_time", "shutdown", "network",
                                        "network_applied", "container", "container_ready", "lifecycle", "lifecycle_done",
                                        "freeze", "frozen", "thaw", "thawed", "resume", "resumed",
                                        "stats", "stats_report"]
        var rng = SplitMix64(seed: 5)
        for i in 0..<Samples.typeCount {
            let m = Samples.randomFrame(&rng, typeIndex: i).message
            if m.type == "error" { continue }
            #expect((m.session == nil) == sessionless.contains(m.type), "\(m.type)")
            if let s = m.session {
                // The session key in the header holds the same value.
                #expect(String(decoding: m.encodedHeader(), as: UTF8.self).contains("\"session\":\(s)"))
            }
        }
        #expect(Message.error(ErrorMessage(code: .internal, message: "x")).session == nil)
        #expect(Message.error(ErrorMessage(code: .internal, message: "x", session: 4)).session == 4)
    }

    @Test func exitIsFlattenedWithTheShellStatus() throws {
        let cases: [(ExitStatus, Int32)] = [
            (ExitStatus(code: 0), 0), (ExitStatus(code: 7), 7), (ExitStatus(code: 255), 255),
            (ExitStatus(signal: 9), 137), (ExitStatus(signal: 15, coreDumped: true), 143), (ExitStatus(), 255),
        ]
        for (status, shell) in cases {
            #expect(status.shellStatus == shell)
            let header = try JSONDecoder().decode(JSONValue.self,
                                                  from: Data(Message.exit(ExitReport(session: 1, status: status)).encodedHeader()))
            #expect(header["status"] == .int(Int64(shell)))
            #expect(header["core_dumped"] == .bool(status.coreDumped))
            #expect(header["code"] == status.code.map { .int(Int64($0)) })
            #expect(header["signal"] == status.signal.map { .int(Int64($0)) })
            #expect(header["exit"] == nil && header["status"] != nil)
        }
        // A sender's inconsistent `status` is ignored; the receiver derives it.
        let lying = Array(#"{"type":"exit","session":1,"code":3,"core_dumped":false,"oom_killed":false,"output_truncated":false,"status":99}"#.utf8)
        #expect(try Message.decode(header: lying) == .exit(ExitReport(session: 1, status: ExitStatus(code: 3))))
    }

    @Test func exitFlagsAreRequired() {
        let missing = Array(#"{"type":"exit","session":1,"code":3}"#.utf8)
        #expect(throws: ProtocolError.self) { try Message.decode(header: missing) }
    }

    @Test func errorsCarryStableCodes() throws {
        #expect(Set(ErrorCode.allDefined.map(\.rawValue)).count == ErrorCode.allDefined.count)
        for code in ErrorCode.allDefined {
            let m = Message.error(ErrorMessage(code: code, message: "m"))
            #expect(try Message.decode(header: m.encodedHeader()) == m)
        }
        let unknown = try Message.decode(header: Array(#"{"type":"error","code":"from_the_future","message":""}"#.utf8))
        guard case .error(let e) = unknown else { Issue.record("not an error: \(unknown)"); return }
        #expect(e.code.rawValue == "from_the_future")
        #expect(!ErrorCode.allDefined.contains(e.code))
    }

    @Test func protocolErrorBecomesAnErrorMessage() {
        let e = ProtocolError(.flowControl, "too much", session: 3)
        #expect(e.errorMessage == ErrorMessage(code: .flowControl, message: "too much", session: 3))
        #expect(e.description == "flow_control_violation: too much")
    }

    @Test func limitsClampPerField() {
        let a = FrameLimits(maxHeaderBytes: 10, maxPayloadBytes: 500)
        let b = FrameLimits(maxHeaderBytes: 20, maxPayloadBytes: 100)
        #expect(a.clamped(to: b) == FrameLimits(maxHeaderBytes: 10, maxPayloadBytes: 100))
        #expect(FrameLimits.default.clamped(to: .ceiling) == .default)
    }
}

@Suite("Versioning and unknown input")
struct VersioningTests {
    /// Unknown fields, at any position and of any JSON type, are ignored in every message type.
    @Test func unknownOptionalFieldsAreIgnoredEverywhere() throws {
        var rng = SplitMix64(seed: 11)
        let extras: [(String, JSONValue)] = [
            ("zz_future", .object(["a": .array([.int(1), .null])])), ("aa_new", .string("x")), ("n", .null),
            ("big", .uint(UInt64.max)), ("f", .double(1.5)),
        ]
        for i in 0..<Samples.typeCount {
            for _ in 0..<20 {
                let frame = Samples.randomFrame(&rng, typeIndex: i)
                guard case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: Data(frame.message.encodedHeader()))
                else { Issue.record("header is not an object"); continue }
                for (k, v) in extras where rng.chance(60) { object[k] = v }
                let decoded = try Message.decode(header: JSONValue.object(object).jsonBytes())
                #expect(decoded == frame.message)
            }
        }
    }

    @Test func unknownTypeIsUnknownMessageWithTheSessionWhenPresent() {
        let cases: [(String, UInt32?)] = [
            (#"{"type":"detach","session":12}"#, 12), (#"{"type":"frobnicate"}"#, nil),
            (#"{"type":"","session":0}"#, 0), (#"{"type":"HELLO"}"#, nil),
            (#"{"type":"x","session":"not a number"}"#, nil), (#"{"session":4294967295,"type":"v2_thing","data":[1]}"#, UInt32.max),
        ]
        for (text, session) in cases {
            #expect { try Message.decode(header: Array(text.utf8)) } throws: { error in
                guard let e = error as? ProtocolError else { return false }
                return e.code == .unknownMessage && e.session == session
            }
        }
    }

    @Test func unknownTypeFrameLeavesTheConnectionUsable() {
        var bytes: [UInt8] = []
        let unknown = Array(#"{"session":5,"type":"detach"}"#.utf8)
        Frame.appendBigEndian(UInt32(unknown.count), to: &bytes)
        Frame.appendBigEndian(0, to: &bytes)
        bytes += unknown
        bytes += Frame(.ping(Ping(id: 1))).encoded()
        let (results, _) = decodeAll(bytes)
        #expect(results.count == 2)
        #expect(results.first?.error == ProtocolError(.unknownMessage, "unknown message type \"detach\"", session: 5))
        #expect(results.last == .frame(Frame(.ping(Ping(id: 1)))))
    }

    @Test func invalidMessagesKeepTheSessionWhenItCanBeRead() {
        let cases: [(String, ErrorCode, UInt32?)] = [
            (#"{"type":"started","session":3}"#, .invalidMessage, 3),
            (#"{"type":"exec","session":"one","argv":["x"]}"#, .invalidMessage, nil),
            (#"{"type":"resize","session":1,"rows":70000,"cols":1}"#, .invalidMessage, 1),
            (#"{"type":"signal","session":2,"signal":1.5}"#, .invalidMessage, 2),
            (#"{"type":"hello","version":1}"#, .invalidMessage, nil),
            (#"{"type":"exec","argv":["x"]}"#, .invalidMessage, nil),
            (#"{"type":null}"#, .malformedHeader, nil),
            (#"{"type":"ping","id":1"#, .malformedHeader, nil),
            (#""ping""#, .malformedHeader, nil),
            ("", .malformedHeader, nil),
        ]
        for (text, code, session) in cases {
            #expect { try Message.decode(header: Array(text.utf8)) } throws: { error in
                guard let e = error as? ProtocolError else { return false }
                return e.code == code && e.session == session
            }
        }
    }

    /// The codec accepts any `version` in hello; refusing an unsupported one is the connection's job.
    @Test func helloCarriesTheVersion() throws {
        let text = #"{"type":"hello","version":2,"role":"guest","capabilities":["x"],"limits":{"max_header":1,"max_payload":2},"window":3,"new":true}"#
        guard case .hello(let h) = try Message.decode(header: Array(text.utf8)) else { Issue.record("not hello"); return }
        #expect(h.version == 2)
        #expect(h.limits == FrameLimits(maxHeaderBytes: 1, maxPayloadBytes: 2))
        #expect(h.window == 3)
        #expect(Hello(role: .host).version == ProtocolConstants.version)
    }
}
