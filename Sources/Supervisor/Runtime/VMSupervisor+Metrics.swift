import LinuxSystem
import VsockProtocol

/// `--metrics-listen`: the VM's state, health, sessions, stdio bytes, ping round trips, the guest's memory and
/// CPU (a fresh `stats` per scrape), Firecracker's own metrics (a `FlushMetrics` per scrape) and the supervisor's
/// own RSS and CPU, in Prometheus' text format.
extension VMSupervisor {
    func startMetrics() throws(SupervisorError) {
        guard let address = metricsListen else { return }
        do {
            metrics = try MetricsServer(address: address, loop: loop) { [unowned self] respond in self.renderMetrics(respond) }
        } catch {
            throw SupervisorError(.badArguments, "--metrics-listen \(address): \(error)", cause: error)
        }
    }

    /// Renders after Firecracker's `FlushMetrics` and a fresh guest `stats` when each can answer; with what is
    /// known otherwise. Both requests are answered on the loop: a scrape never blocks it on the VMM or the guest.
    func renderMetrics(_ respond: @escaping (String) -> Void) {
        flushFirecrackerMetrics { [unowned self] in
            guard let mux, mux.isReady, !stopping, events.current.state != .paused else { return respond(metricsText()) }
            requestStats { [unowned self] _ in respond(self.metricsText()) }
        }
    }

    /// Asks Firecracker to write its metrics line, then reads the file's new lines. A refused or failed flush
    /// still reads what the periodic flush wrote; the file is local and each read is capped, so it stays short.
    private func flushFirecrackerMetrics(then next: @escaping () -> Void) {
        guard let driver, let path = driver.metricsFile else { return next() }
        let read = { [unowned self] in
            do { try firecrackerMetrics.readNew(from: path) } catch { log("Firecracker metrics \(path): \(error)") }
            next()
        }
        guard !stopping, driver.process?.isRunning == true else { return read() }
        driver.flushMetrics(on: loop) { [unowned self] error in
            if let error { log("Firecracker metrics: \(error)") }
            read()
        }
    }

    func metricsText() -> String {
        var m = MetricsText()
        let id = [("id", config.id)]
        let current = events.current
        m.sample("fc_vm_info", .gauge, "The VM (value 1) with its VMM.", labels: id + [("vmm", current.vmm)], 1)
        for phase in ["booting", "created", "running", "paused", "stopping", "stopped"] {
            m.sample("fc_vm_state", .gauge, "1 for the VM's current phase.", labels: id + [("state", phase)],
                     current.state.rawValue == phase ? 1 : 0)
        }
        if let health = current.health {
            m.sample("fc_vm_healthy", .gauge, "1 while vm-init answers heartbeat pings, 0 while unresponsive.", labels: id,
                     health == .healthy ? 1 : 0)
        }
        if let bootMs = current.bootMs {
            m.sample("fc_vm_ready_seconds", .gauge, "Supervisor start to vm-init's hello.", labels: id, bootMs / 1000)
        }
        m.sample("fc_vm_uptime_seconds", .gauge, "Time since the supervisor started.", labels: id, events.elapsedMs / 1000)
        if let counters = mux?.counters {
            m.sample("fc_vm_sessions_opened_total", .counter, "Sessions sent to vm-init (workload and exec).", labels: id, Double(counters.opened))
            m.sample("fc_vm_sessions_started_total", .counter, "Sessions vm-init started.", labels: id, Double(counters.started))
            m.sample("fc_vm_sessions_failed_total", .counter, "Sessions that never ran (start_failed).", labels: id, Double(counters.failed))
            m.sample("fc_vm_sessions_open", .gauge, "Sessions live now.", labels: id, Double(mux?.liveSessionCount ?? 0))
            m.sample("fc_vm_stdio_received_bytes_total", .counter, "stdout and stderr bytes from the guest.", labels: id, Double(counters.bytesIn))
            m.sample("fc_vm_stdio_sent_bytes_total", .counter, "stdin bytes to the guest.", labels: id, Double(counters.bytesOut))
        }
        if let monitor {
            m.histogram("fc_vm_ping_rtt_seconds", "Heartbeat ping round trips to vm-init.", labels: id,
                        bounds: HealthMonitor.rttBounds, counts: monitor.rttBuckets, sum: monitor.rttSumSeconds, count: monitor.rttCount)
            if let offset = monitor.clockOffsetNs {
                m.sample("fc_guest_clock_offset_seconds", .gauge, "Guest clock minus host clock at the last stats.", labels: id, Double(offset) / 1e9)
            }
            if let report = monitor.lastStats { guestMetrics(report, into: &m, labels: id) }
        }
        if driver?.metricsFile != nil { firecrackerMetrics.render(into: &m, labels: id) }
        let own = Self.ownUsage()
        m.sample("fc_supervisor_resident_memory_bytes", .gauge, "The supervisor's RSS.", labels: id, Double(own.rss))
        m.sample("fc_supervisor_cpu_seconds_total", .counter, "The supervisor's user+system CPU time.", labels: id, own.cpuSeconds)
        return m.text
    }

    private func guestMetrics(_ report: StatsReport, into m: inout MetricsText, labels id: [(String, String)]) {
        if let memory = report.memory {
            m.sample("fc_guest_memory_total_bytes", .gauge, "Guest MemTotal.", labels: id, Double(memory.totalBytes))
            m.sample("fc_guest_memory_available_bytes", .gauge, "Guest MemAvailable.", labels: id, Double(memory.availableBytes))
        }
        if let cpu = report.cpu {
            for (mode, ns) in [("user", cpu.userNs), ("system", cpu.systemNs), ("idle", cpu.idleNs)] {
                m.sample("fc_guest_cpu_seconds_total", .counter, "Guest CPU time by mode (/proc/stat).", labels: id + [("mode", mode)], Double(ns) / 1e9)
            }
        }
        if let load = report.loadMilli, let one = load.first {
            m.sample("fc_guest_load1", .gauge, "Guest 1-minute load average.", labels: id, Double(one) / 1000)
        }
        if let kills = report.oomKills {
            m.sample("fc_guest_oom_kills_total", .counter, "Guest kernel OOM kills since boot.", labels: id, Double(kills))
        }
    }

    /// VmRSS and utime+stime of this process.
    static func ownUsage() -> (rss: UInt64, cpuSeconds: Double) {
        var rss: UInt64 = 0
        if let status = try? Files.readText("/proc/self/status", limit: 1 << 16),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) {
            rss = (line.split(separator: " ").dropFirst().first.flatMap { UInt64($0.filter(\.isNumber)) } ?? 0) * 1024
        }
        var cpu = 0.0
        if let stat = try? Files.readText("/proc/self/stat", limit: 4096), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) { cpu = (user + system) / 100 }
        }
        return (rss, cpu)
    }
}
