import Testing
@testable import VsockProtocol

@Suite("Flow control windows")
struct FlowControlTests {
    @Test func sendWindowTakesAtMostItsCredit() throws {
        var w = SendWindow(initial: 100)
        #expect(w.available == 100)
        #expect(w.take(upTo: 30) == 30)
        #expect(w.take(upTo: 500) == 70)
        #expect(w.take(upTo: 1) == 0)
        #expect(w.take(upTo: -5) == 0)
        try w.grant(50, session: 1)
        #expect(w.available == 50)
        #expect(w.take(upTo: 50) == 50)
        #expect(w.available == 0)
    }

    @Test func sendWindowRefusesCreditBeyondFourGiB() throws {
        var w = SendWindow(initial: UInt32.max)
        try w.grant(1, session: 7)
        #expect(w.available == SendWindow.maxCredit)
        #expect { try w.grant(1, session: 7) } throws: { error in
            (error as? ProtocolError).map { $0.code == .flowControl && $0.session == 7 } ?? false
        }
        #expect(w.available == SendWindow.maxCredit, "a refused grant changes nothing")
    }

    @Test func receiveWindowDetectsViolationsAndKeepsState() throws {
        var w = ReceiveWindow(window: 100)
        try w.receive(60, session: 3)
        #expect(w.outstanding == 40)
        #expect { try w.receive(41, session: 3) } throws: { error in
            (error as? ProtocolError).map { $0.code == .flowControl && $0.session == 3 } ?? false
        }
        #expect(w.outstanding == 40, "the excess frame is dropped: it does not use credit")
        try w.receive(40, session: 3)
        #expect(w.outstanding == 0)
        #expect(throws: ProtocolError.self) { try w.receive(1, session: 3) }
        try w.receive(0, session: 3)  // empty stdio frames are always allowed
    }

    /// Grants are batched: nothing until half the window was consumed, then exactly what was consumed.
    @Test func receiveWindowBatchesGrants() throws {
        var w = ReceiveWindow(window: 100)
        try w.receive(100, session: 1)
        #expect(w.consume(20) == nil)
        #expect(w.consume(29) == nil)
        #expect(w.consume(1) == 50)
        #expect(w.outstanding == 50)
        #expect(w.consumedSinceGrant == 0)
        #expect(w.consume(0) == nil)
        #expect(w.consume(50) == 50)
        #expect(w.outstanding == 100)
        #expect(w.consume(-3) == nil)
    }

    @Test func tinyWindowsGrantEveryByte() throws {
        var one = ReceiveWindow(window: 1)
        try one.receive(1, session: 1)
        #expect(one.consume(1) == 1)
        var zero = ReceiveWindow(window: 0)
        #expect(throws: ProtocolError.self) { try zero.receive(1, session: 1) }
        #expect(zero.consume(0) == nil)
    }

    /// Random traffic: the receiver's buffer (received, not yet consumed) plus the peer's credit never
    /// exceeds the window, and the sender never has more credit than the receiver thinks it has.
    @Test func creditIsConservedUnderRandomTraffic() throws {
        var rng = SplitMix64(seed: 77)
        for _ in 0..<200 {
            let window = UInt32(rng.below(5000) + 1)
            var send = SendWindow(initial: window)
            var recv = ReceiveWindow(window: window)
            var buffered: UInt64 = 0
            for _ in 0..<500 {
                if rng.chance(50) {
                    let n = send.take(upTo: rng.below(Int(window) + 10))
                    try recv.receive(n, session: 1)
                    buffered += UInt64(n)
                } else {
                    let n = rng.below(Int(buffered) + 1)
                    buffered -= UInt64(n)
                    if let grant = recv.consume(n) { try send.grant(grant, session: 1) }
                }
                #expect(send.available == recv.outstanding)
                #expect(buffered + recv.outstanding + recv.consumedSinceGrant == UInt64(window))
            }
        }
    }
}

/// Two sessions share one connection; the host's reader of session 2 stalls. Session 1 must keep flowing,
/// session 2 must never have more than one window buffered anywhere, and pings must not wait behind output.
@Suite("Flow control end to end")
struct FlowControlSimulationTests {
    struct Guest {
        var decoder = FrameDecoder()
        var out = OutboundQueue()
        var send: [SessionID: SendWindow] = [:]
        var produced: [SessionID: Int] = [:]

        /// The process writes as much as the credit allows (the guest only reads the pipe when it has credit).
        mutating func produce(session: SessionID, upTo: Int) {
            guard var w = send[session] else { return }
            let n = w.take(upTo: upTo)
            send[session] = w
            guard n > 0 else { return }
            let start = produced[session, default: 0]
            produced[session] = start + n
            out.enqueue(.stdout(SessionRef(session: session)), payload: FlowControlSimulationTests.pattern(from: start, count: n))
        }

        mutating func receive(_ bytes: [UInt8]) throws {
            decoder.append(bytes)
            while let r = decoder.next() {
                guard case .frame(let f) = r else { Issue.record("guest got \(r)"); continue }
                switch f.message {
                case .window(let w): try send[w.session]?.grant(w.bytes, session: w.session)
                case .ping(let p): out.enqueue(.pong(p))
                default: Issue.record("guest got \(f.message)")
                }
            }
        }
    }

    struct Host {
        var decoder = FrameDecoder()
        var out = OutboundQueue()
        var recv: [SessionID: ReceiveWindow] = [:]
        var buffered: [SessionID: [UInt8]] = [:]
        var delivered: [SessionID: Int] = [:]
        var pongs: [UInt64] = []

        mutating func receive(_ bytes: [UInt8]) throws {
            decoder.append(bytes)
            while let r = decoder.next() {
                guard case .frame(let f) = r else { Issue.record("host got \(r)"); continue }
                switch f.message {
                case .stdout(let s):
                    try recv[s.session]?.receive(f.payload.count, session: s.session)
                    buffered[s.session, default: []] += f.payload
                case .pong(let p): pongs.append(p.id)
                default: Issue.record("host got \(f.message)")
                }
            }
        }

        /// The application reads everything buffered for `session`; credit goes back as it is consumed.
        mutating func read(session: SessionID) {
            let bytes = buffered[session] ?? []
            guard !bytes.isEmpty else { return }
            let start = delivered[session, default: 0]
            if bytes != FlowControlSimulationTests.pattern(from: start, count: bytes.count) { Issue.record("session \(session): bytes corrupted") }
            delivered[session] = start + bytes.count
            buffered[session] = []
            if let grant = recv[session]?.consume(bytes.count) {
                out.enqueue(.window(WindowUpdate(session: session, bytes: grant)))
            }
        }
    }

    /// The byte stream every simulated process writes: byte i of a session is UInt8(i % 256).
    static let patternSource: [UInt8] = (0..<(256 + 64 * 1024)).map { UInt8(truncatingIfNeeded: $0) }
    static func pattern(from start: Int, count: Int) -> [UInt8] {
        Array(patternSource[(start % 256)..<(start % 256 + count)])
    }

    /// Moves up to `capacity` bytes out of a queue, as one non-blocking socket write per tick would.
    static func transfer(_ queue: inout OutboundQueue, capacity: Int) -> [UInt8] {
        var wire: [UInt8] = []
        queue.drain { chunk in
            let n = min(chunk.count, capacity - wire.count)
            wire += chunk[0..<n]
            return n
        }
        return wire
    }

    @Test func aStalledReaderNeverStallsAnotherSessionOrGrowsMemory() throws {
        let window: UInt32 = 16 * 1024
        let hostHello = Hello(role: .host, window: window)
        var guest = Guest()
        var host = Host()
        for s: SessionID in [1, 2] {
            guest.send[s] = SendWindow(initial: hostHello.window)
            host.recv[s] = ReceiveWindow(window: hostHello.window)
        }
        var maxBuffered2 = 0
        var maxGuestQueue = 0
        var pingSentAt: [UInt64: Int] = [:]
        var maxPongDelay = 0
        var stalled = true
        let ticks = 1500
        var deliveredAtResume = 0
        for tick in 0..<ticks {
            if tick == 1000 { stalled = false; deliveredAtResume = host.delivered[2, default: 0] }
            guest.produce(session: 1, upTo: 4 * 1024)
            guest.produce(session: 2, upTo: 4 * 1024)
            maxGuestQueue = max(maxGuestQueue, guest.out.byteCount)
            if tick % 10 == 0 {
                host.out.enqueue(.ping(Ping(id: UInt64(tick))))
                pingSentAt[UInt64(tick)] = tick
            }
            try host.receive(Self.transfer(&guest.out, capacity: 6 * 1024))
            for id in host.pongs { maxPongDelay = max(maxPongDelay, tick - (pingSentAt[id] ?? tick)) }
            host.pongs.removeAll()
            host.read(session: 1)
            if !stalled { host.read(session: 2) }
            maxBuffered2 = max(maxBuffered2, host.buffered[2]?.count ?? 0)
            try guest.receive(Self.transfer(&host.out, capacity: 6 * 1024))
        }
        let windowBytes = Int(window)
        // Session 1 kept flowing the whole time: far more than one window per stall period.
        #expect(host.delivered[1, default: 0] > 200 * windowBytes)
        // Session 2 stopped at exactly one window while stalled, buffered nowhere beyond it.
        #expect(maxBuffered2 <= windowBytes)
        #expect(deliveredAtResume == 0)
        #expect(guest.produced[2, default: 0] >= windowBytes)
        // The guest never queued more than the credit of both sessions (plus frame headers).
        #expect(maxGuestQueue <= 2 * windowBytes + 4096)
        // After the reader resumed, session 2 flows again.
        #expect(host.delivered[2, default: 0] > 20 * windowBytes)
        // Pings were answered promptly although the guest's queue was full of output.
        #expect(maxPongDelay <= 2)
        #expect(host.decoder.bufferedByteCount < 6 * 1024 + 64)
    }

    /// A guest that ignores its credit gets `flow_control_violation`; the host drops the excess.
    @Test func exceedingTheWindowIsAViolationAndTheExcessIsDropped() throws {
        var host = ReceiveWindow(window: 1000)
        var buffered = 0
        var errors: [Frame] = []
        for size in [600, 300, 200, 100] {
            do {
                try host.receive(size, session: 4)
                buffered += size
            } catch {
                errors.append(Frame(.error(error.errorMessage)))
            }
        }
        #expect(buffered == 1000)
        #expect(errors.count == 1)
        guard case .error(let e)? = errors.first?.message else { Issue.record("no error"); return }
        #expect(e.code == .flowControl && e.session == 4)
        #expect(decodeAll(errors[0].encoded()).results == [.frame(errors[0])])
    }
}
