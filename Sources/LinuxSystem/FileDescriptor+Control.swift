import CLinux
import Glibc

/// Descriptor flags, locks and readiness waits.
extension FileDescriptor {
    /// Whether the descriptor number is open in this process (`fcntl(F_GETFD)`).
    public var isOpen: Bool { fcntl(rawValue, F_GETFD) >= 0 }

    /// Whether `O_NONBLOCK` is set.
    public func isNonBlocking() throws(SystemError) -> Bool {
        try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_GETFL) } & O_NONBLOCK != 0
    }

    /// Sets or clears `O_NONBLOCK`.
    public func setNonBlocking(_ on: Bool = true) throws(SystemError) {
        let flags = try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_GETFL) }
        let next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if next != flags { _ = try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_SETFL, next) } }
    }

    /// Sets or clears `FD_CLOEXEC`.
    public func setCloexec(_ on: Bool = true) throws(SystemError) {
        let flags = try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_GETFD) }
        let next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if next != flags { _ = try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_SETFD, next) } }
    }

    /// `F_SETPIPE_SZ`: asks for a pipe buffer of at least `bytes`; returns the size the kernel granted.
    @discardableResult
    public func setPipeCapacity(_ bytes: Int) throws(SystemError) -> Int {
        Int(try retryingOnEINTR(negatedErrno: "fcntl", "F_SETPIPE_SZ \(description)") {
            clinux_set_pipe_size(rawValue, Int32(clamping: bytes))
        })
    }

    /// `flock(LOCK_EX | LOCK_NB)`: true when this descriptor now holds the exclusive lock, false when another
    /// open file description holds it. The lock goes with the last descriptor of this open file.
    public func tryLockExclusive() throws(SystemError) -> Bool {
        do {
            _ = try retryingOnEINTR("flock", description) { flock(rawValue, LOCK_EX | LOCK_NB) }
            return true
        } catch where error.errno == EWOULDBLOCK {
            return false
        }
    }

    /// Waits until the descriptor is readable (or hung up, or in error: the next read reports which), or until
    /// `deadline`. Returns false when the deadline passed first. Signals do not cut the wait short.
    public func waitReadable(until deadline: Clock.Instant) throws(SystemError) -> Bool {
        try wait(for: Int16(POLLIN), until: deadline)
    }

    /// Waits until the descriptor is writable (or in error), or until `deadline`; false when the deadline won.
    public func waitWritable(until deadline: Clock.Instant) throws(SystemError) -> Bool {
        try wait(for: Int16(POLLOUT), until: deadline)
    }

    /// Whether poll(2) reports a hang-up right now (a virtio-serial port whose host side is not connected, a pty
    /// whose other end is closed). Never blocks.
    public func isHungUp() throws(SystemError) -> Bool {
        var entry = pollfd(fd: rawValue, events: 0, revents: 0)
        _ = try retryingOnEINTR("poll", description) { Glibc.poll(&entry, 1, 0) }
        return entry.revents & Int16(POLLHUP) != 0
    }

    private func wait(for events: Int16, until deadline: Clock.Instant) throws(SystemError) -> Bool {
        var entry = pollfd(fd: rawValue, events: events, revents: 0)
        // The timeout is recomputed on every EINTR retry, so a signal storm cannot stretch the deadline.
        let ready = try retryingOnEINTR("poll", description) { Glibc.poll(&entry, 1, Clock.millisecondsUntil(deadline)) }
        return ready > 0
    }
}
