import Glibc

/// The monotonic clock (CLOCK_MONOTONIC): deadlines, timeouts and sleeps. Wall time is ``SystemControl``'s.
///
/// One clock for the whole code base, so every deadline is measured the same way. (This shadows the standard
/// library's `Clock` protocol in modules that import LinuxSystem; none of them uses that protocol.)
public enum Clock {
    /// A point on the monotonic clock, in nanoseconds since an arbitrary start (boot).
    public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
        public var nanoseconds: UInt64
        public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

        public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }

        /// `self + duration`, saturating (a negative duration moves back, never below 0).
        public static func + (instant: Instant, duration: Duration) -> Instant {
            let delta = Clock.nanoseconds(of: duration)
            if delta >= 0 { return Instant(nanoseconds: instant.nanoseconds &+ UInt64(delta)) }
            let back = UInt64(delta.magnitude)
            return Instant(nanoseconds: instant.nanoseconds > back ? instant.nanoseconds - back : 0)
        }

        /// The time from `self` to `later`; negative when `later` is earlier.
        public func duration(to later: Instant) -> Duration {
            if later.nanoseconds >= nanoseconds { return .nanoseconds(Int64(clamping: later.nanoseconds - nanoseconds)) }
            return .nanoseconds(-Int64(clamping: nanoseconds - later.nanoseconds))
        }

        /// The time since `self` (zero when `self` is in the future).
        public var elapsed: Duration { max(.zero, duration(to: Clock.now())) }

        /// Whether `self` has passed.
        public var hasPassed: Bool { self <= Clock.now() }

        public var description: String { "\(nanoseconds) ns" }
    }

    /// The current monotonic time.
    public static func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }

    /// A deadline `duration` from now.
    public static func deadline(after duration: Duration) -> Instant { now() + duration }

    /// Blocks the calling thread for `duration` (resumed after a signal: the whole duration is always slept).
    public static func sleep(_ duration: Duration) {
        let total = max(0, nanoseconds(of: duration))
        var request = timespec(tv_sec: Int(total / 1_000_000_000), tv_nsec: Int(total % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && Glibc.errno == EINTR { request = remaining }
    }

    /// Whole milliseconds left until `deadline`, rounded up, clamped to `0...Int32.max` (a `poll` timeout).
    public static func millisecondsUntil(_ deadline: Instant) -> Int32 {
        let now = now()
        guard deadline > now else { return 0 }
        return Int32(clamping: (deadline.nanoseconds - now.nanoseconds + 999_999) / 1_000_000)
    }

    /// A `Duration` in nanoseconds, saturating at `Int64`'s range.
    public static func nanoseconds(of duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole.addingReportingOverflow(attoseconds / 1_000_000_000).overflow
            ? (seconds < 0 ? .min : .max) : whole + attoseconds / 1_000_000_000
    }
}
