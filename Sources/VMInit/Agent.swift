import Glibc
import LinuxSystem
import VsockProtocol

/// The guest agent: one event loop owning the listener, the host connection, every session and the reaper.
///
/// Single-threaded by design: a session's pid is registered in ``sessionByPID`` by the same thread, before the
/// loop can run the SIGCHLD reaper, so the reaper can never see an unregistered child.
public final class Agent {
    let loop: EventLoop
    let config: Config
    /// Whether this process is PID 1 (init duties, reboot at the end).
    let isInit: Bool
    var boot: Boot

    var listener: FileDescriptor?
    var connection: HostConnection?
    /// A flush is posted for this loop turn (see ``scheduleFlush()``).
    var flushScheduled = false
    var nextConnectionID: UInt64 = 1
    var sessions: [SessionID: Session] = [:]
    var sessionByPID: [Int32: SessionID] = [:]
    var shuttingDown = false
    var orphansReaped = 0
    /// Read buffer shared by every read (single-threaded).
    let scratch = ReadBuffer(capacity: Session.maxChunk)
    /// Seams for Tests/Fuzz only (never changed in production): the fuzz target drives arbitrary host frames
    /// through ``handle(_:from:)`` and must neither fork nor set the machine's clock.
    var spawnProcess: (SpawnOptions) throws(SystemError) -> Int32 = { (options) throws(SystemError) in
        try ChildProcess.spawn(options)
    }
    var setWallClock: (Int64) throws(SystemError) -> Void = { (ns) throws(SystemError) in
        try SystemControl.setWallClock(nanoseconds: ns)
    }

    /// Credit we grant the host for stdin per session.
    let ourWindow: UInt32 = ProtocolConstants.defaultWindow
    /// Output read ahead of credit per session; beyond this the session's pipes are not read (back-pressure).
    let pendingCap = 256 * 1024
    /// Above this many queued bytes on the connection, no more output is queued until it drains.
    let congestionLimit = 1 << 20
    /// A host that lets this much pile up (control frames it never reads) is dropped.
    let outboundHardLimit = 32 << 20
    /// Most sessions alive or retained at once.
    let maxSessions = 4096

    public init(config: Config, boot: Boot, isInit: Bool) throws(SystemError) {
        self.loop = try EventLoop()
        self.config = config
        self.boot = boot
        self.isInit = isInit
    }

    /// Installs signal handling, starts listening and runs the loop. Returns only on an event-loop failure.
    public func run() throws(SystemError) {
        try loop.onSignal(SIGCHLD) { [unowned self] _ in self.reap() }
        try loop.onSignal(SIGTERM) { [unowned self] _ in self.beginShutdown(mode: nil, graceMs: nil, reason: "SIGTERM") }
        try loop.onSignal(SIGINT) { [unowned self] _ in self.beginShutdown(mode: nil, graceMs: nil, reason: "SIGINT (Ctrl-Alt-Del)") }
        reap()
        try startListening()
        boot.mark("listening")
        try loop.run()
    }

    // MARK: - Listening

    func startListening() throws(SystemError) {
        switch config.listen {
        case .unix(let path):
            let fd = try UnixSocket.listen(path: path)
            listener = fd
            try loop.register(fd, interest: .read) { [unowned self] _ in self.acceptUnix() }
            Log.info("listening on unix:\(path)")
        case .vsock(let port):
            let fd = try VsockSocket.listen(port: port)
            listener = fd
            try loop.register(fd, interest: .read) { [unowned self] _ in self.acceptVsock() }
            Log.info("listening on vsock port \(port); accepting only the host (CID \(VsockSocket.hostCID))")
        case .serial(let device):
            openSerial(device)
        }
    }

    func acceptUnix() {
        guard let listener else { return }
        while true {
            do {
                guard let fd = try UnixSocket.accept(listener) else { return }
                adopt(fd, persistent: false)
            } catch {
                Log.error("accept: \(error)")
                return
            }
        }
    }

    func acceptVsock() {
        guard let listener else { return }
        while true {
            do {
                guard let (fd, cid, port) = try VsockSocket.accept(listener) else { return }
                guard Self.isAllowedPeer(cid: cid) else {
                    Log.error("refused vsock connection from CID \(cid) port \(port): only the host (CID 2) may connect")
                    fd.close()
                    continue
                }
                Log.info("host connected from CID \(cid) port \(port)")
                adopt(fd, persistent: false)
            } catch {
                Log.error("accept: \(error)")
                return
            }
        }
    }

    /// Whether a vsock peer may become the host connection: only the host (CID 2), never another VM or a local
    /// (CID 1) process.
    static func isAllowedPeer(cid: UInt32) -> Bool { cid == VsockSocket.hostCID }

    func openSerial(_ spec: String) {
        let path: String
        if spec.hasPrefix("name=") {
            guard let found = Self.findVirtioPort(named: String(spec.dropFirst(5))) else {
                Log.error("no virtio port named \(spec.dropFirst(5)); retrying in 1 s")
                loop.addTimer(after: .seconds(1)) { [unowned self] in self.openSerial(spec) }
                return
            }
            path = found
        } else {
            path = spec
        }
        do {
            let fd = try FileDescriptor.open(path, flags: O_RDWR | O_NOCTTY | O_NONBLOCK)
            if isatty(fd.rawValue) != 0 {
                var t = termios()
                if tcgetattr(fd.rawValue, &t) == 0 { cfmakeraw(&t); _ = tcsetattr(fd.rawValue, TCSANOW, &t) }
            }
            Log.info("serving the host on serial device \(path)")
            adopt(fd, persistent: true, reopen: spec)
        } catch {
            Log.error("open serial \(path): \(error); retrying in 1 s")
            loop.addTimer(after: .seconds(1)) { [unowned self] in self.openSerial(spec) }
        }
    }

    /// /sys/class/virtio-ports/*/name == name → /dev/<port>.
    static func findVirtioPort(named name: String) -> String? {
        guard let dir = opendir("/sys/class/virtio-ports") else { return nil }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let port = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if port.hasPrefix(".") { continue }
            let text = readTextFile("/sys/class/virtio-ports/\(port)/name") ?? ""
            if text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) == name { return "/dev/\(port)" }
        }
        return nil
    }

    // MARK: - Connection

    var serialSpec: String?

    /// Makes `fd` the active host connection, replacing any previous one (sessions survive, detached).
    func adopt(_ fd: FileDescriptor, persistent: Bool, reopen: String? = nil) {
        if let old = connection {
            Log.info("new host connection replaces connection \(old.id)")
            dropConnection(reason: "replaced")
        }
        serialSpec = reopen
        let conn = HostConnection(id: nextConnectionID, fd: fd, persistent: persistent)
        nextConnectionID += 1
        conn.onQueued = { [unowned self] in self.scheduleFlush() }
        do {
            try loop.register(fd, interest: .read) { [unowned self] events in self.connectionEvent(conn, events) }
        } catch {
            Log.error("register connection: \(error)")
            fd.close()
            return
        }
        connection = conn
        var timings = boot.timings
        timings["connected"] = SystemControl.bootTimeMicroseconds()
        conn.send(.hello(Hello(role: .guest, agent: "vm-init/0.1",
                               capabilities: ["pty", "rlimits", "capabilities", "attach", "set_time", "shutdown", "oom", "network"],
                               limits: .default, window: ourWindow,
                               wallClockNs: SystemControl.wallClockNanoseconds(), bootTimings: timings)))
        flushConnection()
    }

    func dropConnection(reason: String) {
        guard let conn = connection else { return }
        Log.info("host connection \(conn.id) closed: \(reason)")
        loop.unregister(conn.fd)
        conn.fd.close()
        connection = nil
        if conn.persistent, let spec = serialSpec, !shuttingDown {
            loop.addTimer(after: .milliseconds(100)) { [unowned self] in
                if self.connection == nil { self.openSerial(spec) }
            }
        }
    }

    func connectionEvent(_ conn: HostConnection, _ events: EventLoop.Events) {
        if events.contains(.writable) || events.contains(.error) {
            flushConnection()
        }
        guard connection === conn else { return }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) {
            readConnection(conn)
        }
    }

    func readConnection(_ conn: HostConnection) {
        for _ in 0..<8 {
            guard connection === conn else { return }
            let result: Int?
            do {
                result = try scratch.read(from: conn.fd)
            } catch {
                dropConnection(reason: "\(error)")
                return
            }
            guard let n = result else { break }
            if n == 0 {
                dropConnection(reason: "end of stream")
                return
            }
            conn.decoder.append(scratch.prefix(n))
            while connection === conn, let decoded = conn.decoder.next() {
                switch decoded {
                case .frame(let frame): handle(frame, from: conn)
                case .invalid(let error), .oversized(let error):
                    Log.debug("bad frame from host: \(error)")
                    conn.send(.error(error.errorMessage))
                }
            }
            if n < scratch.capacity { break }
        }
        flushConnection()
    }

    /// Flushes the connection once the current handler is done: however a frame got queued (a host frame, a
    /// child's output, a stdin write, a timer), it is written in the same loop turn.
    func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.post { [unowned self] in
            self.flushScheduled = false
            self.flushConnection()
        }
    }

    /// Writes queued frames; arms EPOLLOUT only while bytes remain. Lets stalled session output resume.
    func flushConnection() {
        guard let conn = connection else { return }
        let before = conn.outbound.byteCount
        do {
            try conn.outbound.drain(writev: { (buffers) throws(SystemError) -> Int in try conn.fd.writev(buffers) })
        } catch {
            dropConnection(reason: "\(error)")
            return
        }
        if conn.outbound.byteCount > outboundHardLimit {
            dropConnection(reason: "host is not reading (\(conn.outbound.byteCount) bytes queued)")
            return
        }
        let wantWrite = !conn.outbound.isEmpty
        if wantWrite != conn.writeArmed {
            do {
                try loop.modify(conn.fd, interest: wantWrite ? [.read, .write] : .read)
                conn.writeArmed = wantWrite
            } catch {
                dropConnection(reason: "\(error)")
                return
            }
        }
        // Room again: hand waiting output of every attached session to the connection.
        if before >= congestionLimit / 2 && conn.outbound.byteCount < congestionLimit / 2 {
            for session in sessions.values where session.connectionID == conn.id {
                flushPending(session, flushSocket: false)
            }
            if !conn.outbound.isEmpty && !conn.writeArmed {
                do { try loop.modify(conn.fd, interest: [.read, .write]); conn.writeArmed = true } catch {
                    dropConnection(reason: "\(error)")
                }
            }
        }
    }

    /// The connection a session streams to, if it is the live one.
    func attachedConnection(_ session: Session) -> HostConnection? {
        guard let conn = connection, session.connectionID == conn.id else { return nil }
        return conn
    }

    /// Sends a session-level error.
    func sendError(_ conn: HostConnection, _ code: ErrorCode, _ message: String, session: SessionID? = nil) {
        conn.send(.error(ErrorMessage(code: code, message: message, session: session)))
    }
}
