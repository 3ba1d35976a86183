import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

/// The guest agent: one event loop owning the listener, the host connection, every session and the reaper.
///
/// Single-threaded by design: a session's pid is registered in ``sessionByPID`` by the same thread, before the
/// loop can run the SIGCHLD reaper, so the reaper can never see an unregistered child.
///
/// Every handler, timer and connection callback the agent installs captures it `unowned(unsafe)`: they live in
/// its own loop (or in a connection it owns) and run only from ``run()``, on this thread, so never after the
/// agent is gone (Embedded Swift, which vm-init also builds in, has no checked `unowned` and no `weak`). A
/// connection's callbacks capture the connection the same way: they are stored in it, so they cannot outlive it.
public final class Agent {
    let loop: EventLoop
    let config: Config
    /// Whether this process is PID 1 (init duties, reboot at the end).
    let isInit: Bool
    var boot: Boot

    var listener: Listener?
    /// The virtio-serial port, when vm-init serves one instead of a socket (one persistent connection).
    var serialPort: SerialPort?
    /// Every open host connection by id (PROTOCOL.md §7.2: several may be open at once).
    var connections: [UInt64: FramedConnection] = [:]
    var nextConnectionID: UInt64 = 1
    var sessions: [SessionID: Session] = [:]
    var sessionByPID: [Int32: SessionID] = [:]
    /// Output pipes with a spliced frame queued, by descriptor: whose, and on which connection.
    var splicesInFlight: [Int32: (session: SessionID, connection: UInt64)] = [:]
    var shuttingDown = false
    /// Where the `container` message stands (at most one per boot; PROTOCOL.md §4.23).
    var container: ContainerPhase = .none
    /// Whether any `exec` has spawned a process (a `container` after that is refused).
    var execStarted = false
    var orphansReaped = 0
    /// Per-session cgroup v2 leaves (none until ``run()`` sets them up as PID 1).
    var cgroups = SessionCgroups()
    /// A freeze under way or in force (PROTOCOL.md §4.25); nil while running normally.
    var snapshot: SnapshotState?
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
    var reseedRandom: ([UInt8]) throws(SystemError) -> Void = { (bytes) throws(SystemError) in
        try GuestControl.reseedRandom(with: bytes)
    }
    /// Whether the OOM killer ended `pid` (tests stage late evidence, which a real kernel gives only by chance).
    var oomEvidence: (_ pid: Int32, _ baseline: UInt64?) -> Bool = wasOOMKilled

    /// Credit we grant the host for stdin per session.
    let ourWindow: UInt32 = ProtocolConstants.streamWindow
    /// Output read ahead of credit per session; beyond this the session's pipes are not read (back-pressure).
    let pendingCap = 256 * 1024
    /// Above this many queued bytes on a connection, no more output is queued to it until it drains below half.
    let congestionLimit = 1 << 20
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
        try loop.onSignal(SIGCHLD) { [unowned(unsafe) self] _ in self.reap() }
        try loop.onSignal(SIGTERM) { [unowned(unsafe) self] _ in self.beginShutdown(mode: nil, graceMs: nil, reason: "SIGTERM") }
        try loop.onSignal(SIGINT) { [unowned(unsafe) self] _ in self.beginShutdown(mode: nil, graceMs: nil, reason: "SIGINT (Ctrl-Alt-Del)") }
        reap()
        boot.mark("signals")
        try startListening()
        boot.mark("listening")
        // A port opened above has the hello queued: out with it, then the duties, while the hello travels and the
        // host answers. Nothing is read before the loop runs, so every request (even one a host sent without
        // waiting for the hello) finds them done.
        for conn in connections.values { conn.flushNow() }
        prepareForWorkloads()
        try loop.run()
    }

    /// The boot work only workloads need (``Boot/performWorkloadDuties(hostname:memoryMinTTLMs:)``) and the
    /// session cgroups. Only as PID 1: an agent run by hand (or the fuzz target) must not move itself around the
    /// host's cgroups.
    func prepareForWorkloads() {
        guard isInit else { return }
        boot.performWorkloadDuties(hostname: config.hostname, memoryMinTTLMs: config.memoryMinTTLMs)
        cgroups = SessionCgroups(discover: true, ownsMachine: boot.ownsMachine,
                                 rootMount: boot.mounted.contains(Boot.cgroupMountPoint) ? Boot.cgroupMountPoint : nil)
        boot.mark("cgroups")
        if let duties = boot.timings["duties"], let listening = boot.timings["listening"], let done = boot.timings["cgroups"] {
            Log.debug("boot: workload duties \((duties - listening) / 1000) ms, session cgroups \((done - duties) / 1000) ms, after the hello")
        }
    }

    // MARK: - Listening

    func startListening() throws(SystemError) {
        let listener: Listener
        switch config.listen {
        case .unix(let path):
            listener = try Listener.unix(path: path, loop: loop)
            Log.debug("listening on unix:\(path)")
        case .vsock(let port):
            listener = try Listener.vsock(port: port, loop: loop)
            Log.debug("listening on vsock port \(port); accepting only the host (CID \(VsockSocket.hostCID))")
        case .serial(let spec):
            let port = SerialPort(spec: spec, loop: loop)
            port.onOpen = { [unowned(unsafe) self] fd, path in
                self.boot.mark("port")
                Log.debug("serving the host on serial device \(path)")
                self.adopt(fd, persistent: true)
            }
            port.onError = { Log.error("serial port: \($0)") }
            serialPort = port
            port.open()
            return
        }
        listener.onAccept = { [unowned(unsafe) self] fd, cid, port in
            if let cid, let port { Log.info("host connected from CID \(cid) port \(port)") }
            self.adopt(fd, persistent: false)
        }
        listener.onError = { Log.error("listener: \($0)") }
        try listener.start()
        self.listener = listener
    }

    // MARK: - Connections

    /// Options for host connections; congestion hand-back at half of ``congestionLimit``.
    var connectionOptions: FramedConnection.Options {
        var options = FramedConnection.Options.vmInit
        options.drainedThreshold = congestionLimit / 2
        return options
    }

    /// Serves `fd` as one more host connection (earlier ones stay open) and says hello on it.
    @discardableResult
    func adopt(_ fd: FileDescriptor, persistent: Bool) -> FramedConnection? {
        let id = nextConnectionID
        nextConnectionID += 1
        // `persistent` is the virtio-serial port: its reads and writes move one driver buffer each.
        let conn = FramedConnection(fd: fd, loop: loop, label: "host connection \(id)", id: id,
                                    options: persistent ? connectionOptions.forSerialPort() : connectionOptions,
                                    state: ConnectionState(ownRole: .guest))
        conn.onFrame = { [unowned(unsafe) self, unowned(unsafe) conn] frame in self.handle(frame, from: conn) }
        conn.onProtocolError = { Log.debug("bad frame on host connection \(id): \($0)") }
        conn.onRefused = { [unowned(unsafe) self, unowned(unsafe) conn] message, error in
            Log.info("host connection \(id): refused \(message.type): \(error.code) \(error.message)")
            // A hello on an open connection while frozen: the transport was replaced under it (a restored VM
            // whose virtio-serial port the new VMM reconnected without a hang-up). Greet the new host.
            if case .hello = message, self.snapshot?.isFrozen == true {
                Log.info("host connection \(id): a new host said hello while frozen; saying hello again")
                self.sayHello(conn)
            }
        }
        conn.onDrained = { [unowned(unsafe) self] in self.connectionDrained(id) }
        conn.onSpliced = { [unowned(unsafe) self] source in self.spliced(source) }
        conn.onClose = { [unowned(unsafe) self] error in
            self.connectionClosed(id, persistent: persistent, reason: error.map { "\($0)" } ?? "end of stream")
        }
        do { try conn.start() } catch {
            Log.error("register connection: \(error)")
            fd.close()
            return nil
        }
        connections[id] = conn
        noticeRestore()
        sayHello(conn)
        return conn
    }

    /// Sends vm-init's `hello` (PROTOCOL.md §4.1).
    func sayHello(_ conn: FramedConnection) {
        var timings = boot.timings
        timings["connected"] = SystemControl.bootTimeMicroseconds()
        conn.send(.hello(Hello(role: .guest, agent: "vm-init/0.1",
                               capabilities: ["pty", "rlimits", "capabilities", "attach", "set_time", "shutdown", "oom", "network",
                                              "container", "snapshot"],
                               limits: .default, window: ourWindow,
                               wallClockNs: SystemControl.wallClockNanoseconds(), bootTimings: timings)))
    }

    /// A connection is gone: its sessions keep running and buffering (bounded by ``pendingCap``), detached until
    /// an `attach`. A serial port is reopened.
    func connectionClosed(_ id: UInt64, persistent: Bool, reason: String) {
        Log.info("host connection \(id) closed: \(reason)")
        connections[id] = nil
        for session in sessions.values where session.connectionID == id { session.connectionID = nil }
        abandonSplices(on: id)
        // Soon: after a snapshot restore the new VMM's end of the port opens a moment later (SerialPort waits for
        // it quietly while the port reports a hang-up).
        if persistent, !shuttingDown { serialPort?.reopen(after: .milliseconds(5)) }
    }

    /// Room again on a congested connection: hand waiting output of its sessions to it.
    func connectionDrained(_ id: UInt64) {
        for session in sessions.values where session.connectionID == id { flushPending(session) }
    }

    /// The connection a session streams to, if it is attached to an open one.
    func attachedConnection(_ session: Session) -> FramedConnection? {
        session.connectionID.flatMap { connections[$0] }
    }

    /// Sends a session-level error.
    func sendError(_ conn: FramedConnection, _ code: ErrorCode, _ message: String, session: SessionID? = nil) {
        conn.send(.error(ErrorMessage(code: code, message: message, session: session)))
    }
}

extension FramedConnection {
    /// The host's announced per-session window (credit for our stdout+stderr).
    var peerWindow: UInt32 { peerHello?.window ?? ProtocolConstants.defaultWindow }
    /// Largest payload the host accepts in one frame.
    var maxPayload: Int { payloadLimit(Session.maxChunk) }
    /// Largest payload spliced from a pipe (the kernel moves it: no buffer of ours holds it).
    var maxSplicedPayload: Int { payloadLimit(Session.maxSplice) }

    private func payloadLimit(_ ours: Int) -> Int {
        let limits = (peerHello?.limits ?? .default).clamped(to: .ceiling)
        return Int(min(limits.maxPayloadBytes, UInt32(ours)))
    }
}
