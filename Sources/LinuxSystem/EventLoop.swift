import CLinux
import Glibc

/// A single-threaded, level-triggered epoll event loop with timers and signalfd-based signal handling.
///
/// Every handler runs on the thread that called ``run()``; the loop is not thread-safe and is meant to be
/// created, configured and run on one thread. A descriptor registered with an empty interest is removed from
/// epoll (so a hung-up pipe nobody wants to read does not spin) but stays known; `modify` re-arms it.
public final class EventLoop {
    /// What a registration wants to be told about.
    public struct Interest: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let read = Interest(rawValue: 1)
        public static let write = Interest(rawValue: 2)
    }

    /// What happened to a descriptor.
    public struct Events: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: 1)
        public static let writable = Events(rawValue: 2)
        /// The peer hung up (EPOLLHUP / EPOLLRDHUP). Reads drain what is left, then see EOF.
        public static let hangup = Events(rawValue: 4)
        /// EPOLLERR: the next read or write reports the error.
        public static let error = Events(rawValue: 8)
    }

    /// Identifies a timer for ``cancelTimer(_:)``.
    public struct TimerID: Hashable, Sendable {
        public let rawValue: UInt64
    }

    /// A delivered signal (from signalfd).
    public struct SignalInfo: Sendable {
        public var signal: Int32
        /// The sending process (for SIGCHLD: the child), 0 when unknown.
        public var pid: Int32
        public var status: Int32
    }

    private struct Registration {
        var generation: UInt32
        var interest: Interest
        var armed: Bool
        var handler: (Events) -> Void
    }

    private struct Timer {
        var deadline: UInt64
        var id: UInt64
        var handler: () -> Void
    }

    private let epollFD: Int32
    /// Indexed by descriptor number (descriptors are small and dense), not a `Dictionary`: instantiating a
    /// dictionary type costs a protocol-conformance scan of the whole binary on first use, which was 5 % of an
    /// `fc-supervisor exec` client's CPU.
    private var registrations: [Registration?] = []
    public private(set) var registrationCount = 0
    private var nextGeneration: UInt32 = 1
    private var timers: [Timer] = []
    /// Handlers for the end of the current turn (``post(_:)``).
    private var posted: [() -> Void] = []
    private var nextTimerID: UInt64 = 1
    private var signalFD: Int32 = -1
    /// Indexed by signal number.
    private var signalHandlers: [((SignalInfo) -> Void)?] = []
    private var running = false

    /// Creates the epoll instance.
    public init() throws(SystemError) {
        let fd = clinux_epoll_create()
        guard fd >= 0 else { throw SystemError("epoll_create", errno: -fd) }
        epollFD = fd
    }

    deinit {
        Glibc.close(epollFD)
        if signalFD >= 0 { Glibc.close(signalFD) }
    }

    /// Monotonic clock, nanoseconds (``Clock/now()``).
    public static func now() -> UInt64 { Clock.now().nanoseconds }

    /// Number of registered descriptors (armed or not).
    /// Starts watching `fd`. The handler is called with what happened whenever `fd` is ready for `interest`.
    public func register(_ fd: FileDescriptor, interest: Interest, handler: @escaping (Events) -> Void) throws(SystemError) {
        guard fd.rawValue >= 0 else { throw SystemError("epoll_ctl", errno: EBADF, "\(fd) is not a descriptor") }
        guard registration(fd.rawValue) == nil else {
            throw SystemError("epoll_ctl", errno: EEXIST, "\(fd) is already registered")
        }
        let generation = nextGeneration
        nextGeneration &+= 1
        var registration = Registration(generation: generation, interest: interest, armed: false, handler: handler)
        if !interest.isEmpty {
            try control(Int32(CLINUX_EPOLL_ADD), fd.rawValue, interest, generation)
            registration.armed = true
        }
        let index = Int(fd.rawValue)
        if index >= registrations.count {
            registrations.append(contentsOf: repeatElement(nil, count: max(index + 1, 2 * registrations.count) - registrations.count))
        }
        registrations[index] = registration
        registrationCount += 1
    }

    private func registration(_ fd: Int32) -> Registration? {
        fd >= 0 && Int(fd) < registrations.count ? registrations[Int(fd)] : nil
    }

    /// Changes what `fd` is watched for. An empty interest disarms it without forgetting the handler.
    public func modify(_ fd: FileDescriptor, interest: Interest) throws(SystemError) {
        guard var registration = registration(fd.rawValue) else {
            throw SystemError("epoll_ctl", errno: ENOENT, "\(fd) is not registered")
        }
        if registration.interest == interest && registration.armed == !interest.isEmpty { return }
        if interest.isEmpty {
            if registration.armed { try control(Int32(CLINUX_EPOLL_DEL), fd.rawValue, [], registration.generation) }
            registration.armed = false
        } else if registration.armed {
            try control(Int32(CLINUX_EPOLL_MOD), fd.rawValue, interest, registration.generation)
        } else {
            try control(Int32(CLINUX_EPOLL_ADD), fd.rawValue, interest, registration.generation)
            registration.armed = true
        }
        registration.interest = interest
        registrations[Int(fd.rawValue)] = registration
    }

    /// The current interest of `fd`, nil when it is not registered.
    public func interest(of fd: FileDescriptor) -> Interest? { registration(fd.rawValue)?.interest }

    /// Stops watching `fd` (call before closing it). Unknown descriptors are ignored.
    public func unregister(_ fd: FileDescriptor) {
        guard let registration = registration(fd.rawValue) else { return }
        registrations[Int(fd.rawValue)] = nil
        registrationCount -= 1
        if registration.armed {
            _ = clinux_epoll_ctl(epollFD, Int32(CLINUX_EPOLL_DEL), fd.rawValue, 0, 0)
        }
    }

    /// Calls `handler` once, on the loop, after `delay`.
    @discardableResult
    public func addTimer(after delay: Duration, _ handler: @escaping () -> Void) -> TimerID {
        let deadline = (Clock.now() + max(.zero, delay)).nanoseconds
        let id = nextTimerID
        nextTimerID += 1
        // Keep `timers` sorted by deadline (stable for equal deadlines).
        var low = 0
        var high = timers.count
        while low < high {
            let mid = (low + high) / 2
            if timers[mid].deadline <= deadline { low = mid + 1 } else { high = mid }
        }
        timers.insert(Timer(deadline: deadline, id: id, handler: handler), at: low)
        return TimerID(rawValue: id)
    }

    /// Cancels a pending timer; a fired or unknown id is ignored.
    public func cancelTimer(_ id: TimerID) {
        if let index = timers.firstIndex(where: { $0.id == id.rawValue }) { timers.remove(at: index) }
    }

    /// Runs `handler` on the loop once the handlers of the current turn are done, before it waits again
    /// (posted from outside a turn: in the next one, which then does not wait). What a posted handler posts
    /// runs a turn later, so handlers that keep posting cannot keep the loop from polling its descriptors.
    public func post(_ handler: @escaping () -> Void) {
        posted.append(handler)
    }

    /// Blocks `signal` (sigprocmask, calling thread) and delivers it through a signalfd to `handler`.
    /// Call before other threads exist, or they may take the signal. Replaces an earlier handler.
    public func onSignal(_ signal: Int32, _ handler: @escaping (SignalInfo) -> Void) throws(SystemError) {
        guard signal > 0, signal < 65 else { throw SystemError("signalfd", errno: EINVAL, "signal \(signal)") }
        if signalHandlers.isEmpty { signalHandlers = Array(repeating: nil, count: 65) }
        signalHandlers[Int(signal)] = handler
        let signals = signalHandlers.indices.filter { signalHandlers[$0] != nil }.map { Int32($0) }
        let fd = signals.withUnsafeBufferPointer { clinux_signalfd(signalFD, $0.baseAddress, $0.count) }
        guard fd >= 0 else { throw SystemError("signalfd", errno: -fd, "signal \(signal)") }
        if signalFD < 0 {
            signalFD = fd
            // The loop's own handler, held in its own table: it cannot outlive the loop, so no check is needed
            // (and Embedded Swift has no checked `unowned`).
            try register(FileDescriptor(rawValue: fd), interest: .read) { [unowned(unsafe) self] _ in self.drainSignals() }
        }
    }

    /// Runs until ``stop()`` is called from a handler.
    public func run() throws(SystemError) {
        running = true
        var events = [clinux_epoll_event](repeating: clinux_epoll_event(), count: 128)
        while running {
            let timeout = posted.isEmpty ? nextTimeoutMilliseconds() : 0
            let count = try retryingOnEINTR(negatedErrno: "epoll_wait") {
                events.withUnsafeMutableBufferPointer {
                    clinux_epoll_wait(epollFD, $0.baseAddress, Int32($0.count), timeout)
                }
            }
            fireDueTimers()
            for i in 0..<Int(count) where running {
                let data = events[i].data
                let fd = Int32(truncatingIfNeeded: data & 0xffff_ffff)
                let generation = UInt32(truncatingIfNeeded: data >> 32)
                guard let registration = registration(fd), registration.generation == generation,
                      registration.armed else { continue }
                let raw = events[i].events
                var what: Events = []
                if raw & UInt32(CLINUX_EPOLLIN) != 0 { what.insert(.readable) }
                if raw & UInt32(CLINUX_EPOLLOUT) != 0 { what.insert(.writable) }
                if raw & UInt32(CLINUX_EPOLLHUP | CLINUX_EPOLLRDHUP) != 0 { what.insert(.hangup) }
                if raw & UInt32(CLINUX_EPOLLERR) != 0 { what.insert(.error) }
                registration.handler(what)
            }
            runPosted()
        }
    }

    /// Runs what was posted before this call, in order (a turn's worth: what they post waits for the next).
    private func runPosted() {
        guard !posted.isEmpty else { return }
        let batch = posted
        posted = []
        var next = 0
        while next < batch.count && running {
            batch[next]()
            next += 1
        }
        // Stopped midway: the rest stay first in line for a later run().
        if next < batch.count { posted.insert(contentsOf: batch[next...], at: 0) }
    }

    /// Makes ``run()`` return after the current handler.
    public func stop() { running = false }

    /// Forgets every pending timer and posted handler without running them, and lets go of what they hold. For an
    /// owner that is done with the loop: a handler still pending (a reply's deadline, say) may hold the owner,
    /// which holds the loop, so neither would ever be freed.
    public func discardPendingWork() {
        timers.removeAll()
        posted.removeAll()
    }

    private func control(_ op: Int32, _ fd: Int32, _ interest: Interest, _ generation: UInt32) throws(SystemError) {
        var mask: UInt32 = 0
        if interest.contains(.read) { mask |= UInt32(CLINUX_EPOLLIN | CLINUX_EPOLLRDHUP) }
        if interest.contains(.write) { mask |= UInt32(CLINUX_EPOLLOUT) }
        let data = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: fd))
        let rc = clinux_epoll_ctl(epollFD, op, fd, mask, data)
        guard rc == 0 else { throw SystemError("epoll_ctl", errno: -rc, "fd \(fd)") }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        guard let first = timers.first else { return -1 }
        let now = Self.now()
        if first.deadline <= now { return 0 }
        let ms = (first.deadline - now + 999_999) / 1_000_000
        return Int32(min(ms, 60_000))
    }

    private func fireDueTimers() {
        let now = Self.now()
        while running, let first = timers.first, first.deadline <= now {
            timers.removeFirst()
            first.handler()
        }
    }

    private func drainSignals() {
        var info = clinux_siginfo()
        while clinux_signalfd_read(signalFD, &info) == 1 {
            let signal = Int32(bitPattern: info.signo)
            guard signal > 0, Int(signal) < signalHandlers.count else { continue }
            signalHandlers[Int(signal)]?(SignalInfo(signal: signal, pid: info.pid, status: info.status))
        }
    }
}
