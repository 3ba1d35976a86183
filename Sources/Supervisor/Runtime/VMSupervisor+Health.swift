import LinuxSystem
import VsockProtocol

/// How the supervisor watches the guest (issue 18). Set before ``VMSupervisor/run(_:)``.
public struct HealthSettings: Sendable, Equatable {
    /// Time between heartbeat pings; zero turns the heartbeat off. A ping still unanswered when the next one is
    /// due makes the VM `unresponsive`, so a hung guest is noticed within two intervals.
    public var heartbeatInterval: Duration = .seconds(2)
    /// Stop the VM (exit ``SupervisorExitCode/guestUnresponsive``, 123) once vm-init has answered no ping for this
    /// long; nil never gives up on it.
    public var livenessTimeout: Duration?
    /// How often the guest's clock is compared with the host's (a `stats` request); zero: only at boot and on
    /// demand. Past ``clockDriftThreshold`` the guest gets `set_time`.
    public var clockCheckInterval: Duration = .seconds(60)
    public var clockDriftThreshold: Duration = .milliseconds(100)

    public init(heartbeatInterval: Duration = .seconds(2), livenessTimeout: Duration? = nil,
                clockCheckInterval: Duration = .seconds(60), clockDriftThreshold: Duration = .milliseconds(100)) {
        self.heartbeatInterval = heartbeatInterval
        self.livenessTimeout = livenessTimeout
        self.clockCheckInterval = clockCheckInterval
        self.clockDriftThreshold = clockDriftThreshold
    }

    /// A one-line problem with these settings, or nil.
    public var problem: String? {
        if heartbeatInterval < .zero { return "the heartbeat interval must not be negative" }
        if clockCheckInterval < .zero { return "the clock check interval must not be negative" }
        if clockDriftThreshold <= .zero { return "the clock drift threshold must be positive" }
        if let livenessTimeout {
            if heartbeatInterval == .zero { return "a liveness timeout needs the heartbeat (interval above 0)" }
            if livenessTimeout < heartbeatInterval { return "the liveness timeout must be at least one heartbeat interval" }
        }
        return nil
    }
}

/// The heartbeat's running state: the one ping in flight, when vm-init last answered, what it costs.
final class HealthMonitor {
    /// The ping in flight (at most one: a hung guest gets no pile of pings to answer when it wakes).
    var outstanding: UInt64?
    /// When vm-init last answered (or the heartbeat started), monotonic nanoseconds.
    var lastAnswer = EventLoop.now()
    var unresponsive = false
    /// Round-trip times of answered pings, for the metrics.
    private(set) var rttCount: UInt64 = 0
    private(set) var lastRTTNs: UInt64?
    /// The guest's last `stats_report`, and its clock's offset from the host's then (ns, guest minus host).
    var lastStats: StatsReport?
    var clockOffsetNs: Int64?

    /// The last few round trips; their minimum is the clock's estimate of the one-way delay (as NTP keeps the
    /// best of its recent samples: a round trip delayed by a busy host says nothing about the path).
    private var recentRTTs: [UInt64] = []

    /// The ping round-trip histogram (seconds), cumulative per upper bound.
    static let rttBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    private(set) var rttBuckets = [UInt64](repeating: 0, count: rttBounds.count)
    private(set) var rttSumSeconds = 0.0

    func answered(rttNs: UInt64) {
        outstanding = nil
        lastAnswer = EventLoop.now()
        rttCount += 1
        lastRTTNs = rttNs
        sample(rttNs: rttNs)
        let seconds = Double(rttNs) / 1e9
        rttSumSeconds += seconds
        for (index, bound) in Self.rttBounds.enumerated() where seconds <= bound { rttBuckets[index] += 1 }
    }

    /// A round trip of any control message (a ping, a `stats`).
    func sample(rttNs: UInt64) {
        recentRTTs.append(rttNs)
        if recentRTTs.count > 8 { recentRTTs.removeFirst() }
    }

    /// Half the smallest recent round trip (0 before any answer).
    var oneWayDelayNs: UInt64 { (recentRTTs.min() ?? 0) / 2 }
}

extension VMSupervisor {
    /// Starts the heartbeat and the clock once vm-init said hello (a restored guest: once `resumed`): the guest's
    /// clock is checked at once and set when it is off (a VM boots with whatever its RTC or snapshot says).
    func startHealthMonitor() {
        guard monitor == nil else { return }
        let monitor = HealthMonitor()
        self.monitor = monitor
        checkClock(reason: "boot")
        if health.clockCheckInterval > .zero { scheduleClockCheck() }
        guard health.heartbeatInterval > .zero else { return }
        events.update { $0.health = .healthy }
        heartbeat()
    }

    /// One beat: judge the ping in flight, send the next, come back after one interval.
    private func heartbeat() {
        guard !stopping, let monitor, let mux, mux.isReady else { return }
        defer { loop.addTimer(after: health.heartbeatInterval) { [unowned self] in self.heartbeat() } }
        if events.current.state == .paused || snapshotState.checkpointing {
            // A VM paused on purpose (by a pause, or by the VMM while it writes a checkpoint) answers nothing and
            // is not hung: forget the ping, and the wait with it.
            if let id = monitor.outstanding { mux.cancelPing(id) }
            monitor.outstanding = nil
            monitor.lastAnswer = EventLoop.now()
            return
        }
        if monitor.outstanding != nil {
            // A whole interval without its pong.
            if !monitor.unresponsive { changeHealth(unresponsive: true, monitor) }
            if let limit = health.livenessTimeout, EventLoop.now() - monitor.lastAnswer >= UInt64(limit.nanoseconds) {
                fail(.guestUnresponsive, "vm-init answered no ping for \(limit): stopping the VM")
            }
            return
        }
        monitor.outstanding = mux.ping { [unowned self, weak monitor] rtt in
            guard let monitor else { return }
            monitor.answered(rttNs: rtt)
            if monitor.unresponsive { self.changeHealth(unresponsive: false, monitor) }
        }
    }

    private func changeHealth(unresponsive: Bool, _ monitor: HealthMonitor) {
        monitor.unresponsive = unresponsive
        let silentMs = Double(EventLoop.now() - monitor.lastAnswer) / 1e6
        if unresponsive {
            log("vm-init has not answered a ping for \(Int(silentMs)) ms: unresponsive")
            events.record(.unresponsive, message: "no pong for \(Int(silentMs)) ms")
        } else {
            events.record(.healthy, message: "vm-init answers pings again")
        }
        events.update { $0.health = unresponsive ? .unresponsive : .healthy }
    }
}

extension Duration {
    /// The whole duration in nanoseconds (durations here are seconds to hours, far from Int64's 292 years).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).partialValue + attoseconds / 1_000_000_000
    }
}
