// fc-bench: protocol-level benchmarks for `make bench` (Benchmarks/run.sh). Not shipped.
//
// Speaks VsockProtocol over one Unix socket: either a supervisor's control socket (role "client") or vm-init's
// listening socket directly (role "host", `--direct`). Every mode prints one JSON object on stdout.
//
//   fc-bench rtt        --socket P [--direct] [--runs 2000] [--warmup 100]
//   fc-bench concurrent --socket P [--direct] [--sessions 1000] [--sleep 2] [--rss-pid PID]...
//   fc-bench ping-flood --socket P [--direct] [--floods 3] [--pings 2000]
//   fc-bench stalled    --socket P [--direct] [--seconds 3] [--rss-pid PID]...
//   fc-bench hello      --socket P -- CMD...   (spawns CMD, times spawn -> guest hello)
//   fc-bench idle       --socket P [--direct] [--sessions 100] [--rss-pid PID]...
import Glibc
import VsockProtocol

// MARK: - Small utilities

func now() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func fail(_ message: String) -> Never {
    let text = "fc-bench: \(message)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(1)
}

/// VmRSS of a process in KiB (0 if unreadable).
func rssKiB(_ pid: Int32) -> Int {
    guard let f = fopen("/proc/\(pid)/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 512)
    while fgets(&line, Int32(line.count), f) != nil {
        let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if s.hasPrefix("VmRSS:") {
            return Int(s.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
    }
    return 0
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    let idx = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
    return Double(sorted[idx]) / 1000  // µs
}

func fmt(_ v: Double) -> String {
    let scaled = (v * 10).rounded() / 10
    return "\(scaled)"
}

// MARK: - Arguments

struct Args {
    var mode = ""
    var socket = ""
    var direct = false
    var runs = 2000
    var warmup = 100
    var sessions = 1000
    var sleep = "2"
    var floods = 3
    var pings = 2000
    var seconds = 3.0
    var rssPids: [Int32] = []
    var command: [String] = []

    init(_ argv: [String]) {
        var it = argv.dropFirst().makeIterator()
        guard let m = it.next() else { fail("usage: fc-bench MODE --socket PATH [options]") }
        mode = m
        while let a = it.next() {
            func value() -> String { guard let v = it.next() else { fail("\(a) needs a value") }; return v }
            switch a {
            case "--socket": socket = value()
            case "--direct": direct = true
            case "--runs": runs = Int(value()) ?? runs
            case "--warmup": warmup = Int(value()) ?? warmup
            case "--sessions": sessions = Int(value()) ?? sessions
            case "--sleep": sleep = value()
            case "--floods": floods = Int(value()) ?? floods
            case "--pings": pings = Int(value()) ?? pings
            case "--seconds": seconds = Double(value()) ?? seconds
            case "--rss-pid": if let p = Int32(value()) { rssPids.append(p) }
            case "--": while let c = it.next() { command.append(c) }
            default: fail("unknown argument \(a)")
            }
        }
        if socket.isEmpty && mode != "codec" { fail("--socket is required") }
    }
}

// MARK: - Connection

/// A blocking Unix-socket connection that frames with VsockProtocol.
final class Conn {
    let fd: Int32
    var decoder = FrameDecoder()
    var buffer = [UInt8](repeating: 0, count: 256 * 1024)
    var out: [UInt8] = []
    let direct: Bool
    var peerHello: Hello?
    private(set) var eof = false

    init(path: String, direct: Bool, retryUntil deadline: UInt64 = 0) {
        self.direct = direct
        while true {
            let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { fail("socket: \(errno)") }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { fail("socket path too long") }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if rc == 0 { fd = s; break }
            let e = errno
            close(s)
            if deadline > 0 && now() < deadline && (e == ENOENT || e == ECONNREFUSED) { usleep(100); continue }
            fail("connect \(path): errno \(e)")
        }
    }

    /// Sends our hello and waits for the peer's.
    func handshake() {
        send(.hello(Hello(role: direct ? .host : .client, agent: "fc-bench/0.1", window: ProtocolConstants.defaultWindow)))
        flush()
        while peerHello == nil {
            guard let f = nextFrame() else { fail("connection closed before hello") }
            if case .hello(let h) = f.message { peerHello = h }
        }
    }

    func send(_ m: Message, payload: [UInt8] = []) { Frame.encode(m, payload: payload, into: &out) }

    func flush() {
        var off = 0
        while off < out.count {
            let n = out.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; fail("write: errno \(errno)") }
            off += n
        }
        out.removeAll(keepingCapacity: true)
    }

    /// Frames already decoded, without blocking.
    func pending() -> Frame? {
        while let d = decoder.next() {
            switch d {
            case .frame(let f): return f
            case .invalid(let e), .oversized(let e): fail("bad frame from peer: \(e)")
            }
        }
        return nil
    }

    /// The next frame, blocking; nil at EOF.
    func nextFrame(timeoutMs: Int32 = -1) -> Frame? {
        while true {
            if let f = pending() { return f }
            if timeoutMs >= 0 {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, timeoutMs) == 0 { return nil }
            }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; fail("read: errno \(errno)") }
            if n == 0 { eof = true; return nil }
            buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
    }

    /// Sends exit_ack when talking to vm-init directly (it retains exits until acknowledged).
    func ack(_ session: SessionID) {
        if direct { send(.exitAck(SessionRef(session: session))) }
    }
}

// MARK: - Modes

let args = Args(CommandLine.arguments)
signal(SIGPIPE, SIG_IGN)

func printJSON(_ fields: [(String, String)]) {
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

func rssFields(_ label: String) -> [(String, String)] {
    args.rssPids.enumerated().map { ("\(label)_rss_kib_\($0.offset)", "\(rssKiB($0.element))") }
}

/// exec `true` back to back; latency = exec sent → exit received.
func rtt() {
    let c = Conn(path: args.socket, direct: args.direct)
    c.handshake()
    var samples: [UInt64] = []
    samples.reserveCapacity(args.runs)
    var id: SessionID = 1
    for i in 0..<(args.warmup + args.runs) {
        let t0 = now()
        c.send(.exec(ExecRequest(session: id, argv: ["true"])))
        c.flush()
        var done = false
        while !done {
            guard let f = c.nextFrame() else { fail("closed during run \(i)") }
            switch f.message {
            case .exit(let m) where m.session == id:
                guard m.status.code == 0 else { fail("true exited \(m.status.shellStatus)") }
                done = true
            case .startFailed(let m) where m.session == id: fail("start failed: \(m.message)")
            case .error(let m): fail("error: \(m.message)")
            default: break
            }
        }
        let t1 = now()
        c.ack(id)
        if i >= args.warmup { samples.append(t1 - t0) }
        id &+= 1
    }
    c.flush()
    samples.sort()
    let mean = Double(samples.reduce(0, +)) / Double(samples.count) / 1000
    printJSON([("runs", "\(samples.count)"), ("p50_us", fmt(percentile(samples, 50))), ("p90_us", fmt(percentile(samples, 90))),
               ("p99_us", fmt(percentile(samples, 99))), ("mean_us", fmt(mean)), ("max_us", fmt(percentile(samples, 100)))])
}

/// N sessions started at once on one connection; each prints a unique line after a short sleep. RSS of the
/// given pids is sampled once every session has started (all alive at the same time).
func concurrent() {
    let c = Conn(path: args.socket, direct: args.direct)
    c.handshake()
    let n = args.sessions
    let t0 = now()
    // Ids above those of the other modes (vm-init retains unacknowledged exits of killed flood sessions).
    let base: SessionID = 1_000_000
    for i in 1...n {
        let id = base + SessionID(i)
        c.send(.exec(ExecRequest(session: id, argv: ["sh", "-c", "sleep \(args.sleep); echo ok-$0", "\(id)"])))
    }
    c.flush()
    var started = 0, exited = 0, failures = 0, wrong = 0
    var output = [SessionID: [UInt8]]()
    var peakSampled: [(String, String)] = []
    var startedAllAt: UInt64 = 0
    while exited + failures < n {
        guard let f = c.nextFrame() else { fail("closed after \(exited) exits") }
        switch f.message {
        case .started:
            started += 1
            if started == n { startedAllAt = now(); peakSampled = rssFields("peak") }
        case .startFailed(let m):
            failures += 1
            if failures <= 3 { FileHandleStderr.write("start_failed \(m.session): \(m.message)\n") }
        case .stdout(let m):
            output[m.session, default: []] += f.payload
        case .exit(let m):
            exited += 1
            if m.status.code != 0 || output[m.session] != Array("ok-\(m.session)\n".utf8) { wrong += 1 }
            c.ack(m.session)
            c.flush()
        case .error(let m): fail("error: \(m.message)")
        default: break
        }
        if !c.out.isEmpty { c.flush() }
    }
    let wall = Double(now() - t0) / 1e9
    printJSON([("sessions", "\(n)"), ("started", "\(started)"), ("exited", "\(exited)"), ("start_failed", "\(failures)"),
               ("wrong", "\(wrong)"), ("wall_ms", fmt(wall * 1000)),
               ("all_started_ms", fmt(Double(startedAllAt &- t0) / 1e6))] + peakSampled)
}

/// `floods` sessions write /dev/zero at full speed (we consume and grant as fast as we can); meanwhile a
/// ping goes out as soon as the previous pong is back. RTT percentiles and the flood throughput.
func pingFlood() {
    let c = Conn(path: args.socket, direct: args.direct)
    c.handshake()
    for i in 1...args.floods {
        c.send(.exec(ExecRequest(session: SessionID(i), argv: ["cat", "/dev/zero"])))
    }
    c.flush()
    var received: [SessionID: Int] = [:]
    var bytes = 0
    // Let the floods reach full speed.
    let warmEnd = now() + 300_000_000
    while now() < warmEnd {
        guard let f = c.nextFrame() else { fail("closed during warm-up") }
        if case .stdout(let m) = f.message { grant(c, m.session, f.payload.count, &received) }
        if !c.out.isEmpty { c.flush() }
    }
    // One ping in flight at a time, at most one per millisecond, so the run spans seconds of flood.
    var samples: [UInt64] = []
    var pingID: UInt64 = 1
    var sentAt = now()
    var awaiting = true
    c.send(.ping(Ping(id: pingID)))
    c.flush()
    let t0 = now()
    while samples.count < args.pings {
        if !awaiting && now() >= sentAt + 1_000_000 {
            pingID += 1
            sentAt = now()
            awaiting = true
            c.send(.ping(Ping(id: pingID)))
        }
        guard let f = c.nextFrame(timeoutMs: 1) else { if c.eof { fail("closed during flood") }; continue }
        switch f.message {
        case .stdout(let m):
            bytes += f.payload.count
            grant(c, m.session, f.payload.count, &received)
        case .pong(let p) where p.id == pingID:
            samples.append(now() - sentAt)
            awaiting = false
        case .error(let m): fail("error: \(m.message)")
        default: break
        }
        if !c.out.isEmpty { c.flush() }
    }
    let seconds = Double(now() - t0) / 1e9
    for i in 1...args.floods { c.send(.signal(SignalRequest(session: SessionID(i), signal: SIGKILL))) }
    c.flush()
    samples.sort()
    printJSON([("pings", "\(samples.count)"), ("floods", "\(args.floods)"), ("p50_us", fmt(percentile(samples, 50))),
               ("p99_us", fmt(percentile(samples, 99))), ("max_us", fmt(percentile(samples, 100))),
               ("flood_mib_s", fmt(Double(bytes) / 1048576 / seconds))])
}

func grant(_ c: Conn, _ session: SessionID, _ n: Int, _ received: inout [SessionID: Int]) {
    let total = received[session, default: 0] + n
    if total >= 512 * 1024 {
        c.send(.window(WindowUpdate(session: session, bytes: UInt32(total))))
        received[session] = 0
    } else {
        received[session] = total
    }
}

/// One session floods stdout; we read the socket but never grant credit (a stalled reader). RSS of the given
/// pids after `seconds`.
func stalled() {
    let c = Conn(path: args.socket, direct: args.direct)
    c.handshake()
    let before = rssFields("before")
    c.send(.exec(ExecRequest(session: 1, argv: ["cat", "/dev/zero"])))
    c.flush()
    var bytes = 0
    let end = now() + UInt64(args.seconds * 1e9)
    while now() < end {
        guard let f = c.nextFrame(timeoutMs: 50) else { if c.eof { fail("closed while stalled") }; continue }
        if case .stdout = f.message { bytes += f.payload.count }
    }
    let during = rssFields("stalled")
    c.send(.signal(SignalRequest(session: 1, signal: SIGKILL)))
    c.flush()
    printJSON([("received_bytes", "\(bytes)")] + before + during)
}

/// `sessions` long-lived sessions (sleep); RSS once all have started; then they are killed.
func idle() {
    let c = Conn(path: args.socket, direct: args.direct)
    c.handshake()
    let before = rssFields("idle")
    let n = args.sessions
    for i in 1...n { c.send(.exec(ExecRequest(session: SessionID(i), argv: ["sleep", "60"]))) }
    c.flush()
    var started = 0
    while started < n {
        guard let f = c.nextFrame() else { fail("closed") }
        switch f.message {
        case .started: started += 1
        case .startFailed(let m): fail("start failed: \(m.message)")
        default: break
        }
    }
    usleep(200_000)
    let with = rssFields("with_sessions")
    for i in 1...n { c.send(.signal(SignalRequest(session: SessionID(i), signal: SIGKILL))) }
    c.flush()
    var exited = 0
    while exited < n {
        guard let f = c.nextFrame() else { break }
        if case .exit(let m) = f.message { exited += 1; c.ack(m.session) }
    }
    c.flush()
    printJSON([("sessions", "\(n)")] + before + with)
}

/// Spawns the command (vm-init under unshare), connects as soon as the socket exists, and times spawn → hello.
/// Prints the child's pid; the child keeps running (the caller kills it).
func hello() {
    guard !args.command.isEmpty else { fail("hello needs -- CMD") }
    unlink(args.socket)
    let t0 = now()
    var pid: pid_t = 0
    let cargs = args.command.map { strdup($0) } + [nil]
    // The child's stdio goes to /dev/null: it must not hold our caller's stdout pipe open after we exit.
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    for fd: Int32 in [0, 1, 2] {
        posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
    }
    let rc = posix_spawnp(&pid, args.command[0], &actions, nil, cargs, environ)
    posix_spawn_file_actions_destroy(&actions)
    guard rc == 0 else { fail("spawn \(args.command[0]): \(rc)") }
    let c = Conn(path: args.socket, direct: true, retryUntil: t0 + 10_000_000_000)
    let connected = now()
    var hello: Hello?
    while hello == nil {
        guard let f = c.nextFrame() else { fail("closed before hello") }
        if case .hello(let h) = f.message { hello = h }
    }
    let t1 = now()
    let timings = (hello?.bootTimings ?? [:]).sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
    printJSON([("pid", "\(pid)"), ("spawn_to_hello_us", fmt(Double(t1 - t0) / 1000)),
               ("spawn_to_connect_us", fmt(Double(connected - t0) / 1000)), ("boot_timings_us", "{\(timings)}")])
}

/// Per-frame cost of the JSON header codec on the stdio path (encode + decode of a 64 KiB stdout frame).
func codec() {
    let n = args.runs
    let payload = [UInt8](repeating: 0, count: 64 * 1024)
    var encoded: [UInt8] = []
    let t0 = now()
    for i in 0..<n {
        encoded.removeAll(keepingCapacity: true)
        Frame.encode(.stdout(SessionRef(session: SessionID(i & 1023))), payload: payload, into: &encoded)
    }
    let t1 = now()
    var decoder = FrameDecoder()
    var frames = 0
    for _ in 0..<n {
        encoded.withUnsafeBytes { decoder.append($0) }
        if case .frame? = decoder.next() { frames += 1 }
    }
    let t2 = now()
    let header = Message.stdout(SessionRef(session: 7)).encodedHeader()
    let t3 = now()
    for _ in 0..<n { _ = Message.stdout(SessionRef(session: 7)).encodedHeader() }
    let t4 = now()
    for _ in 0..<n { _ = try? Message.decode(header: header) }
    let t5 = now()
    printJSON([("frames", "\(frames)"), ("encode_frame_us", fmt(Double(t1 - t0) / Double(n) / 1000)),
               ("decode_frame_us", fmt(Double(t2 - t1) / Double(n) / 1000)),
               ("encode_header_us", fmt(Double(t4 - t3) / Double(n) / 1000)),
               ("decode_header_us", fmt(Double(t5 - t4) / Double(n) / 1000))])
}

enum FileHandleStderr {
    static func write(_ s: String) { _ = s.withCString { Glibc.write(2, $0, strlen($0)) } }
}

switch args.mode {
case "rtt": rtt()
case "concurrent": concurrent()
case "ping-flood": pingFlood()
case "stalled": stalled()
case "idle": idle()
case "hello": hello()
case "codec": codec()
default: fail("unknown mode \(args.mode)")
}
