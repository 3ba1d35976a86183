import LinuxSystem
import VsockProtocol

/// The guest's `stats_report` for control clients, and the guest clock: set at boot, on demand (control.sock
/// `set_time`, `fc-supervisor set-time ID`) and whenever a periodic check finds it drifted past the threshold.
extension VMSupervisor {
    /// How long the guest gets to answer `stats`.
    static let statsTimeout: Duration = .seconds(5)

    func guestStats(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void) {
        requestStats { result in reply(result.map(\.report)) }
    }

    func syncGuestClock(reply: @escaping (Result<StatsReport, ErrorMessage>) -> Void) {
        syncClock(reason: "requested", completion: reply)
    }

    /// A `stats` round trip: the report and the guest clock's offset from the host's midpoint of the round trip.
    func requestStats(_ completion: @escaping (Result<(report: StatsReport, offsetNs: Int64), ErrorMessage>) -> Void) {
        guard !stopping, let mux, mux.isReady else {
            return completion(.failure(ErrorMessage(code: .invalidState, message: "the guest is not connected")))
        }
        guard events.current.state != .paused else {
            return completion(.failure(ErrorMessage(code: .invalidState, message: "the VM is paused")))
        }
        let sentAt = SystemControl.wallClockNanoseconds()
        var timer: EventLoop.TimerID?
        let id = mux.stats { [unowned self] report in
            if let timer { self.loop.cancelTimer(timer) }
            let receivedAt = SystemControl.wallClockNanoseconds()
            let offset = report.unixNs &- (sentAt / 2 &+ receivedAt / 2)
            self.monitor?.sample(rttNs: UInt64(clamping: max(0, receivedAt - sentAt)))
            self.monitor?.lastStats = report
            self.monitor?.clockOffsetNs = offset
            completion(.success((report, offset)))
        }
        timer = loop.addTimer(after: Self.statsTimeout) { [unowned self] in
            self.mux?.cancelStats(id)
            completion(.failure(ErrorMessage(code: .internal, message: "the guest did not answer stats within \(Self.statsTimeout)")))
        }
    }

    /// Sends `set_time` with the host's clock plus the estimated one-way delay (half the best recent round trip),
    /// then a `stats` that shows the result; a residual offset over half the threshold is corrected by another
    /// `set_time` with the delay adjusted by it (at most three rounds: the path's delays jitter). Records a
    /// `clock_set` event with the offsets before and after.
    func syncClock(reason: String, completion: @escaping (Result<StatsReport, ErrorMessage>) -> Void) {
        let before = monitor?.clockOffsetNs
        round(delayNs: Int64(clamping: monitor?.oneWayDelayNs ?? 0), left: 3) { [unowned self] result in
            switch result {
            case .success(let (report, offset)):
                let was = before.map { " (was \(Self.milliseconds($0)))" } ?? ""
                self.events.record(.clockSet, message: "\(reason): guest clock offset \(Self.milliseconds(offset))\(was)")
                completion(.success(report))
            case .failure(let error):
                self.warn("guest clock (\(reason)): \(error.message)")
                completion(.failure(error))
            }
        }
    }

    private func round(delayNs: Int64, left: Int,
                       completion: @escaping (Result<(report: StatsReport, offsetNs: Int64), ErrorMessage>) -> Void) {
        guard !stopping, let mux, mux.isReady, events.current.state != .paused else {
            return completion(.failure(ErrorMessage(code: .invalidState, message: "the guest is not connected or paused")))
        }
        mux.connection.send(.setTime(SetTime(unixNs: SystemControl.wallClockNanoseconds() &+ delayNs)))
        // vm-init handles frames in order: this report is made after the clock was set.
        requestStats { [unowned self] result in
            if case .success(let (_, offset)) = result, left > 1,
               offset.magnitude > UInt64(self.health.clockDriftThreshold.nanoseconds / 2) {
                return self.round(delayNs: delayNs &- offset, left: left - 1, completion: completion)
            }
            completion(result)
        }
    }

    /// At boot, from the guest's `hello`: when its `wall_clock_ns` is off from ours by more than the drift threshold
    /// and the guest serves `set_time`, sends the host's time at once. Nothing else has been sent to the guest yet
    /// and it handles frames in order, so the container and the workload start on the right clock. The one-way
    /// delay is not known yet: the boot's drift check (a `stats` round trip, right after) measures what is left
    /// and corrects it past the threshold.
    func setClockFromHello(_ hello: Hello, on mux: GuestMux) {
        guard hello.capabilities.contains(Self.setTimeCapability), let guestNs = hello.wallClockNs else { return }
        let now = SystemControl.wallClockNanoseconds()
        let offset = guestNs &- now
        guard isDrifted(offset) else { return }
        mux.connection.send(.setTime(SetTime(unixNs: now)))
        events.record(.clockSet, message: "boot: guest clock off by \(Self.milliseconds(offset)) at hello; set")
    }

    /// Whether a guest clock this far from ours (ns) is to be set: past `--clock-drift-threshold`.
    func isDrifted(_ offsetNs: Int64) -> Bool { offsetNs.magnitude > UInt64(health.clockDriftThreshold.nanoseconds) }

    /// The `hello` capability of a guest that serves `set_time` (PROTOCOL.md §4.1).
    static let setTimeCapability = "set_time"

    /// The drift check: a `stats` round trip; past the threshold, `set_time`. At boot too: a guest whose clock
    /// is already right (the simulator's vm-init shares the host's clock) is never set, so a test namespace never
    /// steps the host's clock; a VM's RTC has whole seconds, so a real guest is set at boot in practice.
    func checkClock(reason: String, then next: @escaping () -> Void = {}) {
        requestStats { [unowned self] result in
            if case .success(let (_, offset)) = result, self.isDrifted(offset) {
                self.syncClock(reason: reason) { _ in next() }
            } else {
                next()
            }
        }
    }

    /// The periodic drift check, every ``HealthSettings/clockCheckInterval``.
    func scheduleClockCheck() {
        loop.addTimer(after: health.clockCheckInterval) { [unowned self] in
            guard !self.stopping else { return }
            self.checkClock(reason: "drift") { [unowned self] in self.scheduleClockCheck() }
        }
    }

    /// `-10003.4 ms`: an offset to a tenth of a millisecond.
    static func milliseconds(_ ns: Int64) -> String { "\(Double(ns / 100_000) / 10) ms" }
}
