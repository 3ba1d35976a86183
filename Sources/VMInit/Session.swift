import LinuxSystem
import VsockProtocol

/// Which output stream bytes came from.
enum OutputStream: Int, Sendable {
    case stdout = 0, stderr = 1
}

/// One exec session: its process, its stdio descriptors and all per-session flow-control state.
/// Owned and mutated only by ``Agent`` on the event-loop thread.
final class Session {
    let id: SessionID
    let argv0: String
    let tty: Bool
    var pid: Int32
    /// Output descriptors by stream (for a tty only `.stdout`: the master, which also takes stdin).
    var outputs: [OutputStream: FileDescriptor] = [:]
    /// The stdin pipe's write end (nil for a tty, for `stdin: false`, and once closed).
    var stdinFD: FileDescriptor?
    var stdinEnabled: Bool
    /// Stdin received and not yet written to the process: the frames' payload arrays, kept as they came.
    var stdin = ByteQueue<Untagged>()
    var stdinCloseRequested = false
    var stdinDone = false
    var receiveWindow: ReceiveWindow
    var sendWindow: SendWindow
    /// Output read from the process but not yet handed to a connection (bounded by ``Agent/pendingCap``).
    var pending = ByteQueue<OutputStream>()
    /// The last output read filled what it asked for: more is probably waiting, so the next read goes straight
    /// into a chunk of its own (``Agent/readOutput(_:_:)``).
    var outputBusy = false
    /// How much that next read asks for (see ``Agent/readChunk``).
    var outputReadSize = 0
    var termination: ProcessTermination?
    /// /proc/vmstat's `oom_kill` count when the session started (nil: the kernel has no such counter).
    var oomBaseline: UInt64?
    /// The OOM killer ended the process (goes to `exit.oom_killed`).
    var oomKilled = false
    /// vm-init itself sent the session SIGKILL (``Agent/signal(_:_:)``: a host `signal`, an exec's timeout, the
    /// shutdown, a restore's `resume` not keeping it): such an exit needs no look for the OOM killer.
    var sigkillSent = false
    /// A later look for OOM evidence is scheduled; the exit waits for it (``Agent/lookForOOMKill(_:looksLeft:)``).
    var oomLookTimer: EventLoop.TimerID?
    var drainDeadlinePassed = false
    var drainBudget: [OutputStream: Int] = [:]
    var drainTimer: EventLoop.TimerID?
    var timeoutTimer: EventLoop.TimerID?
    var truncated = false
    /// Set when vm-init itself ended the session (`snapshot`: not kept by a restore's `resume`); goes to `exit.lost`.
    var lost: String?
    var exitReport: ExitReport?
    var exitSent = false
    /// The connection this session streams to (nil: detached; cleared when that connection closes).
    var connectionID: UInt64?

    init(id: SessionID, argv0: String, tty: Bool, pid: Int32, stdinEnabled: Bool, ourWindow: UInt32, peerWindow: UInt32,
         connectionID: UInt64?) {
        self.id = id
        self.argv0 = argv0
        self.tty = tty
        self.pid = pid
        self.stdinEnabled = stdinEnabled
        self.receiveWindow = ReceiveWindow(window: ourWindow)
        self.sendWindow = SendWindow(initial: peerWindow)
        self.connectionID = connectionID
    }

    var isRunning: Bool { termination == nil }
    var stdinPending: Int { stdin.byteCount }
    var pendingBytes: Int { pending.byteCount }

    /// Appends output read from the process; consecutive reads of one stream are merged into chunks of up to
    /// ``maxChunk`` bytes so frames carry large payloads (fewer headers, syscalls and wake-ups per byte on every
    /// hop).
    func appendPending(_ stream: OutputStream, _ bytes: UnsafeRawBufferPointer) {
        pending.append(copying: bytes, tag: stream, mergeLimit: Self.maxChunk)
    }

    /// Largest pending chunk (and so copied stdio frame payload) vm-init builds.
    static let maxChunk = 256 * 1024

    /// Largest spliced frame payload, and the capacity of the stdout pipe it is spliced from (the page
    /// references of a 1 MiB pipe cost the guest kernel 10 KiB per session). Under TCG, 1 MiB frames with the
    /// host's 2 MiB window moved `exec dd` output about 20% faster than 256 KiB frames with a 1 MiB window: a
    /// quarter of the header writes, kicks and wake-ups, and no wait for credit between frames.
    static let maxSplice = 1 << 20

    /// Removes up to `count` bytes from the front chunk; returns them with their stream. The bytes share the
    /// chunk's storage (nothing is copied).
    func takePending(upTo count: Int) -> (OutputStream, ArraySlice<UInt8>)? {
        pending.take(upTo: count).map { ($0.tag, $0.bytes) }
    }

    /// Size of what is left of the next pending chunk.
    var nextPendingCount: Int { pending.front?.bytes.count ?? 0 }

    /// The `sessions` entry for this session.
    func info(attached: Bool) -> SessionInfo {
        SessionInfo(session: id, pid: pid, state: exitReport == nil ? .running : .exited, argv0: argv0,
                    attached: attached, exit: exitReport?.status)
    }
}
