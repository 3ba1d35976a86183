import LinuxSystem

extension Clock.Instant {
    /// The same moment on LinuxSystem's monotonic clock as `deadline` on the standard library's
    /// (both are CLOCK_MONOTONIC; only the remaining time is carried over). The public entry points of this
    /// module still take `ContinuousClock` deadlines, which VMM and Supervisor pass.
    init(_ deadline: ContinuousClock.Instant) {
        self = Clock.deadline(after: deadline - ContinuousClock.now)
    }
}
