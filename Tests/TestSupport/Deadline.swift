import Glibc
import LinuxSystem

/// A point on the monotonic clock, for every "until this holds or time runs out" loop in the tests.
public struct Deadline: Sendable {
    /// Monotonic nanoseconds.
    public let instant: UInt64

    /// `seconds` from now.
    public init(seconds: Double) {
        instant = EventLoop.now() + UInt64(max(0, seconds) * 1e9)
    }

    /// Monotonic seconds (for measuring elapsed time).
    public static func now() -> Double { Double(EventLoop.now()) / 1e9 }

    /// Seconds left; 0 once passed.
    public var remaining: Double {
        let now = EventLoop.now()
        return now >= instant ? 0 : Double(instant - now) / 1e9
    }

    public var hasPassed: Bool { EventLoop.now() >= instant }

    /// Evaluates `condition` every `interval` seconds until it holds (true) or the deadline passes (false).
    /// The condition is evaluated at least once, and once more at the deadline.
    public func poll(every interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
        while true {
            if try condition() { return true }
            if hasPassed { return false }
            Deadline.sleep(min(interval, remaining))
        }
    }

    /// Sleeps `seconds` (LinuxSystem has no sleep: the daemons never block this way).
    public static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        usleep(useconds_t(min(seconds, 3600) * 1e6))
    }
}
