import Foundation
import Testing
@testable import VsockProtocol

/// `freeze`, `frozen`, `thaw`, `thawed`, `resume`, `resumed` and `exit.lost` (PROTOCOL.md §4.12, §4.25–§4.30).
@Suite("Snapshot messages")
struct SnapshotMessageTests {
    private func decode(_ text: String) throws(ProtocolError) -> Message { try Message.decode(header: Array(text.utf8)) }
    private func header(_ message: Message) -> String { String(decoding: message.encodedHeader(), as: UTF8.self) }
    private func refusal(_ text: String) -> ProtocolError? {
        do { _ = try decode(text); return nil } catch { return error }
    }

    @Test func theContractsShapesRoundTrip() throws {
        let freeze = Message.freeze(FreezeRequest(timeoutMs: 2000))
        #expect(header(freeze) == #"{"timeout_ms":2000,"type":"freeze"}"#)
        #expect(try decode(#"{"type":"freeze"}"#) == .freeze(FreezeRequest()))

        let frozen = Message.frozen(FrozenReport(
            method: .cgroup, sessions: [FrozenSession(session: 1, pid: 12, attached: true)], fsfreeze: ["/mnt/data"],
            sync: true, timingsUs: FreezeTimings(freeze: 1, sync: 2, fsfreeze: 3, flush: 4, total: 10)))
        #expect(header(frozen) == #"{"fsfreeze":["/mnt/data"],"method":"cgroup","sessions":[{"attached":true,"pid":12,"session":1}],"sync":true,"timings_us":{"flush":4,"freeze":1,"fsfreeze":3,"sync":2,"total":10},"type":"frozen"}"#)
        #expect(try decode(header(frozen)) == frozen)

        #expect(header(.thaw(ThawRequest())) == #"{"type":"thaw"}"#)
        #expect(header(.thawed(ThawedReport())) == #"{"type":"thawed"}"#)

        let entropy = [UInt8](repeating: 7, count: 32)
        let resume = Message.resume(ResumeRequest(unixNs: 1_764_500_000_000_000_000, generation: 2, entropyBytes: entropy,
                                                  keep: [1], hostname: "clone-b"))
        #expect(header(resume) == #"{"entropy":"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=","generation":2,"hostname":"clone-b","keep":[1],"type":"resume","unix_ns":1764500000000000000}"#)
        guard case .resume(let back) = try decode(header(resume)) else { Issue.record("not a resume"); return }
        #expect(back.decodedEntropy == entropy)

        let resumed = Message.resumed(ResumedReport(
            generation: 2, clockStepNs: -5_003_000_000, rngReseeded: true, lost: [3, 4],
            timingsUs: ResumeTimings(clock: 1, rng: 2, identity: 3, network: 4, thaw: 5, total: 20)))
        #expect(header(resumed) == #"{"clock_step_ns":-5003000000,"generation":2,"lost":[3,4],"rng_reseeded":true,"timings_us":{"clock":1,"identity":3,"network":4,"rng":2,"thaw":5,"total":20},"type":"resumed"}"#)
        #expect(try decode(header(resumed)) == resumed)
    }

    @Test func frozenTravelsInTheBulkLaneTheOthersInControl() {
        let frozen = Message.frozen(FrozenReport(method: .sigstop, sessions: [], fsfreeze: [], sync: false,
                                                 timingsUs: FreezeTimings(freeze: 0, sync: 0, fsfreeze: 0, flush: 0, total: 0)))
        #expect(!frozen.isControl)
        for m: Message in [.freeze(FreezeRequest()), .thaw(ThawRequest()), .thawed(ThawedReport()),
                           .resume(ResumeRequest(unixNs: 0, generation: 0, entropyBytes: Array(repeating: 1, count: 16)))] {
            #expect(m.isControl, "\(m.type)")
            #expect(m.session == nil, "\(m.type)")
        }
        // Behind output already queued: a host reading `frozen` has every byte queued before it.
        var queue = OutboundQueue()
        queue.enqueue(.stdout(SessionRef(session: 1)), payload: Array("tail".utf8))
        queue.enqueue(frozen)
        queue.enqueue(.pong(Ping(id: 9)))
        var wire: [UInt8] = []
        queue.drain { (chunk: UnsafeRawBufferPointer) -> Int in wire += chunk; return chunk.count }
        var decoder = FrameDecoder(limits: .default)
        decoder.append(wire)
        var order: [String] = []
        while case .frame(let frame)? = decoder.next() { order.append(frame.message.type) }
        #expect(order == ["pong", "stdout", "frozen"])
    }

    @Test func badFieldsAreInvalidMessages() {
        let sixteen = Data(repeating: 0, count: 16).base64EncodedString()
        let bad = [
            #"{"type":"freeze","timeout_ms":0}"#,
            #"{"type":"freeze","timeout_ms":60001}"#,
            #"{"type":"freeze","timeout_ms":"2000"}"#,
            #"{"type":"resume","generation":2,"entropy":"\#(sixteen)"}"#,
            #"{"type":"resume","unix_ns":1,"entropy":"\#(sixteen)"}"#,
            #"{"type":"resume","unix_ns":1,"generation":2}"#,
            #"{"type":"resume","unix_ns":1,"generation":2,"entropy":"AAECAwQFBgcICQoL"}"#,
            #"{"type":"resume","unix_ns":1,"generation":2,"entropy":"\#(Data(repeating: 0, count: 513).base64EncodedString())"}"#,
            #"{"type":"resume","unix_ns":1,"generation":2,"entropy":"%%%%%%%%%%%%%%%%%%%%%%%%"}"#,
            #"{"type":"resume","unix_ns":1,"generation":-2,"entropy":"\#(sixteen)"}"#,
            #"{"type":"resume","unix_ns":1,"generation":2,"entropy":"\#(sixteen)","keep":[-1]}"#,
        ]
        for text in bad { #expect(refusal(text)?.code == .invalidMessage, "\(text)") }
        #expect(refusal(#"{"type":"resume","unix_ns":1,"generation":2,"entropy":"\#(Data(repeating: 0, count: 512).base64EncodedString())"}"#) == nil)
        // An unknown freeze method decodes (a newer guest may have one) and is not a defined one.
        let unknown = #"{"type":"frozen","method":"hypervisor","sessions":[],"fsfreeze":[],"sync":true,"timings_us":{"freeze":0,"sync":0,"fsfreeze":0,"flush":0,"total":0}}"#
        guard case .frozen(let report)? = try? decode(unknown) else { Issue.record("unknown method refused"); return }
        #expect(!report.method.isDefined)
    }

    @Test func exitLostIsOmittedUnlessSet() throws {
        let plain = Message.exit(ExitReport(session: 1, status: ExitStatus(code: 0)))
        // Byte-identical to the exit every earlier version sent.
        #expect(header(plain) == #"{"code":0,"core_dumped":false,"oom_killed":false,"output_truncated":false,"session":1,"status":0,"type":"exit"}"#)
        let lost = Message.exit(ExitReport(session: 3, status: ExitStatus(signal: 9, lost: ExitStatus.lostSnapshot)))
        #expect(header(lost) == #"{"core_dumped":false,"lost":"snapshot","oom_killed":false,"output_truncated":false,"session":3,"signal":9,"status":137,"type":"exit"}"#)
        #expect(try decode(header(lost)) == lost)
        // `sessions` entries carry it too.
        let list = Message.sessions(SessionList(sessions: [SessionInfo(session: 3, pid: 5, state: .exited, argv0: "sh",
                                                                       attached: false, exit: ExitStatus(signal: 9, lost: "snapshot"))]))
        #expect(header(list).contains(#""lost":"snapshot""#))
    }
}
