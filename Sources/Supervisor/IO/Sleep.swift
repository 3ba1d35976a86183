import Glibc

extension Duration {
    /// Whole milliseconds, rounded down.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

/// Sleeps for `duration` (blocking; only outside the event loop), resuming after signals.
func sleep(for duration: Duration) {
    let ns = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && Glibc.errno == EINTR { request = remaining }
}
