import Foundation
import Testing
@testable import VsockProtocol

/// `SpawnStage`, `ShutdownMode`, `SessionState`: typed, byte-identical on the wire, unknown values decode.
@Suite("Typed wire names")
struct WireNameTests {
    @Test func encodeAsPlainStrings() {
        let failed = Message.startFailed(StartFailed(session: 2, errno: 2, stage: .exec, message: "m"))
        #expect(String(decoding: failed.encodedHeader(), as: UTF8.self)
                == #"{"errno":2,"message":"m","session":2,"stage":"exec","type":"start_failed"}"#)
        let shutdown = Message.shutdown(ShutdownRequest(mode: .poweroff, graceMs: 5))
        #expect(String(decoding: shutdown.encodedHeader(), as: UTF8.self)
                == #"{"grace_ms":5,"mode":"poweroff","type":"shutdown"}"#)
        let info = SessionInfo(session: 1, pid: nil, state: .exited, argv0: nil, attached: false, exit: nil)
        #expect(String(decoding: Message.sessions(SessionList(sessions: [info])).encodedHeader(), as: UTF8.self)
                == #"{"sessions":[{"attached":false,"session":1,"state":"exited"}],"type":"sessions"}"#)
    }

    @Test func unknownValuesDecodeAndAreNotDefined() throws {
        let text = #"{"type":"shutdown","mode":"hibernate"}"#
        guard case .shutdown(let s) = try Message.decode(header: Array(text.utf8)) else { Issue.record("x"); return }
        #expect(s.mode == ShutdownMode(rawValue: "hibernate"))
        #expect(s.mode?.isDefined == false)
        #expect(ShutdownMode(defined: "hibernate") == nil)
        #expect(ShutdownMode(defined: "reboot") == .reboot)
        let failed = #"{"type":"start_failed","session":1,"errno":0,"stage":"seccomp","message":""}"#
        guard case .startFailed(let f) = try Message.decode(header: Array(failed.utf8)) else { Issue.record("x"); return }
        #expect(f.stage.rawValue == "seccomp" && !SpawnStage.allDefined.contains(f.stage))
    }

    @Test func definedNames() {
        #expect(SpawnStage.allDefined.map(\.rawValue) == [
            "validate", "user", "pty", "pipes", "fork", "setsid", "tty", "stdio", "rlimits", "groups", "gid", "uid",
            "capabilities", "no_new_privs", "cwd", "exec", "pdeathsig", "oom_score_adj", "spawn",
        ])
        #expect(ShutdownMode.allDefined.map(\.rawValue) == ["reboot", "poweroff"])
        #expect(SessionState.allDefined.map(\.rawValue) == ["running", "exited"])
    }
}
