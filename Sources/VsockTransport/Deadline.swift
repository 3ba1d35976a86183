import Glibc
import LinuxSystem

/// Waits until `fd` is readable or the deadline passes; true when readable (or hung up).
/// (Glibc's poll: LinuxSystem has no poll wrapper yet.)
func waitReadable(_ fd: FileDescriptor, until deadline: ContinuousClock.Instant) -> Bool {
    while true {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { return false }
        let ms = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000 + 1
        var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        let rc = poll(&pfd, 1, Int32(clamping: ms))
        if rc > 0 { return true }
        if rc < 0 && errno != EINTR { return true }  // let the read report the error
    }
}

/// Sleeps for `duration`, resuming after signals.
func pause(for duration: Duration) {
    let ns = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
