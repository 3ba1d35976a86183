// libFuzzer target (b): vm-init's host-connection handler (FramedConnection.readAvailable → ConnectionState →
// Agent.handle) fed arbitrary byte streams, i.e. arbitrary frame sequences, over a real socketpair. Compiled by
// build-fuzz.sh together with Sources/VMInit/*.swift into one module, so internal members are reachable.
//
// No side effects on the machine: Agent.spawnProcess is replaced by a fake that hands out pids above
// PID_MAX_LIMIT (4,194,304), so signals to "sessions" fail with ESRCH; Agent.setWallClock and Agent.reseedRandom
// are no-ops (a `freeze` does run sync(2), which changes nothing). Pipes and
// ptys are created for real (and closed at the end of each input). isInit is false and the event loop never
// runs, so shutdown requests cannot reach exit()/reboot.
//
// Input: byte 0 seeds the chunking (chunks of up to 16, 256, 4 Ki or 64 Ki bytes, so frames split mid-header
// and mid-payload without a syscall per byte; byte-at-a-time splitting is the frame-decoder target's job); the
// rest is the host→guest byte stream. Unless bit 5 of byte 0 is set, a valid host `hello` goes first, so most
// inputs get past PROTOCOL.md §7's hello check and reach the message handlers. Checks: vm-init answers only with well-formed frames (guest messages,
// decoded in full on one input in four), keeps its session table bounded, and never traps.
import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

nonisolated(unsafe) private var didSetup = false
private let hostHello: [UInt8] = Frame(.hello(Hello(role: .host, agent: "fuzz"))).encoded()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVMInitSession(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    if !didSetup { fuzzProcessSetup(); Log.level = .error; didSetup = true }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let control = input.first else { return 0 }
    let stream = UnsafeRawBufferPointer(rebasing: input[1...])

    var config = Config()
    config.listen = .unix(path: "/nonexistent/vm-init-fuzz.sock")
    guard let agent = try? Agent(config: config, boot: Boot(), isInit: false) else { fatalError("event loop") }
    var nextPID: Int32 = 5_000_000
    agent.spawnProcess = { (options) throws(SystemError) -> Int32 in
        precondition(!options.arguments.isEmpty, "spawn reached with empty argv")
        if options.arguments[0].hasPrefix("/fail") { throw SystemError("exec", errno: ENOENT, "fuzz") }
        nextPID += 1
        return nextPID
    }
    agent.setWallClock = { (_: Int64) throws(SystemError) in }
    agent.reseedRandom = { (_: [UInt8]) throws(SystemError) in }

    let (ours, theirs) = fuzzSocketPair()
    guard let conn = agent.adopt(ours, persistent: false) else { fatalError("adopt failed") }
    if control & 0x20 == 0 {
        hostHello.withUnsafeBytes { fuzzWriteAll(theirs, $0) {} }
        conn.readAvailable()
    }
    var checker = FuzzOutputChecker(control: control)
    let guestSends: (Message) -> Bool = {
        switch $0 {
        case .hello, .started, .startFailed, .stdout, .stderr, .window, .exit, .sessions, .pong, .error: true
        default: false
        }
    }

    var splitter = FuzzSplitter(seed: control)
    let maxChunk = [16, 256, 4096, 65536][Int(control >> 6)]
    var offset = 0
    // The loop never runs: each step reads and then writes what the step queued (the loop's end-of-turn flush).
    while offset < stream.count, !conn.isClosed, !conn.isClosing {
        let n = min(splitter.next(max: maxChunk), stream.count - offset)
        fuzzWriteAll(theirs, UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + n)])) {
            checker.drain(theirs, allowed: guestSends)
        }
        offset += n
        conn.readAvailable()
        conn.flushNow()
        checker.drain(theirs, allowed: guestSends)
        precondition(agent.sessions.count <= agent.maxSessions)
        precondition(agent.sessions.count == agent.sessionByPID.count, "pid table out of sync")
    }

    for session in Array(agent.sessions.values) { agent.forget(session) }
    conn.close()  // its sessions were forgotten above
    // A `shutdown` frame leaves beginShutdown's poll timer in the loop, and that closure holds the Agent (a
    // cycle that is harmless in production, where the Agent lives until reboot). Cancel every timer so the Agent
    // and its epoll descriptor are freed. TimerID is a single UInt64 with no public init.
    let probe = agent.loop.addTimer(after: .zero) {}
    for raw in 1...probe.rawValue { agent.loop.cancelTimer(unsafeBitCast(raw, to: EventLoop.TimerID.self)) }
    theirs.close()
    return 0
}
