import Glibc
import LinuxSystem

/// PID 1's start-up duties. Every failure is logged and boot continues.
public struct Boot {
    /// Milestones in microseconds of CLOCK_BOOTTIME, sent in `hello.boot_timings`.
    public private(set) var timings: [String: UInt64] = [:]
    /// Mount points this process mounted, in mount order (shutdown unmounts them in reverse).
    public private(set) var mounted: [String] = []

    public init() {}

    /// Records a milestone.
    public mutating func mark(_ name: String) {
        timings[name] = SystemControl.bootTimeMicroseconds()
    }

    /// Mounts the API filesystems, brings `lo` up, sets the hostname when configured, disables Ctrl-Alt-Del's
    /// immediate reboot and protects this process from the OOM killer.
    public mutating func performInitDuties(hostname: String?) {
        if SystemControl.procMountedBeforeMain { mounted.append("/proc") }
        mountProcIfNeeded()
        mountIfPossible("sysfs", "/sys", "sysfs", [.noSuid, .noDev, .noExec])
        mountIfPossible("devtmpfs", "/dev", "devtmpfs", [.noSuid], data: "mode=0755")
        mountIfPossible("devpts", "/dev/pts", "devpts", [.noSuid, .noExec], data: "newinstance,ptmxmode=0666,mode=0620")
        // /dev/ptmx must be this devpts instance's ptmx. A bind mount (not a symlink) so a shared devtmpfs
        // (namespace tests) is never modified.
        if mounted.contains("/dev/pts") {
            do {
                try SystemControl.mount("/dev/pts/ptmx", on: "/dev/ptmx", type: "none", flags: [.bind])
                mounted.append("/dev/ptmx")
            } catch {
                Log.error("boot: bind /dev/pts/ptmx on /dev/ptmx: \(error)")
            }
        }
        mountIfPossible("shm", "/dev/shm", "tmpfs", [.noSuid, .noDev], data: "mode=1777")
        mountIfPossible("run", "/run", "tmpfs", [.noSuid, .noDev], data: "mode=0755")
        mountIfPossible("tmp", "/tmp", "tmpfs", [.noSuid, .noDev], data: "mode=1777")
        mountIfPossible("cgroup2", "/sys/fs/cgroup", "cgroup2", [.noSuid, .noDev, .noExec])
        mark("mounted")

        do { try SystemControl.interfaceUp("lo") } catch { Log.error("boot: lo up: \(error)") }
        if let hostname {
            do { try SystemControl.setHostname(hostname) } catch { Log.error("boot: hostname: \(error)") }
        }
        do { try SystemControl.reboot(.disableCtrlAltDel) } catch {
            // EINVAL inside a PID namespace: Ctrl-Alt-Del is the host's business there.
            if error.errno != EINVAL { Log.error("boot: disable Ctrl-Alt-Del: \(error)") }
        }
        writeFile("/proc/self/oom_score_adj", "-1000")
    }

    /// Mounts proc unless /proc already belongs to this PID namespace (where we are PID 1).
    mutating func mountProcIfNeeded() {
        var buffer = [CChar](repeating: 0, count: 32)
        let n = readlink("/proc/self", &buffer, buffer.count - 1)
        let ours = n > 0 && String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "\(getpid())"
        if ours { return }
        mountIfPossible("proc", "/proc", "proc", [.noSuid, .noDev, .noExec])
    }

    mutating func mountIfPossible(_ source: String, _ target: String, _ type: String,
                                  _ flags: SystemControl.MountFlags, data: String? = nil) {
        _ = mkdir(target, 0o755)
        do {
            try SystemControl.mount(source, on: target, type: type, flags: flags, data: data)
            mounted.append(target)
        } catch {
            Log.error("boot: mount \(type) on \(target): \(error)")
        }
    }

    /// Unmounts what boot mounted, most recent first (lazy: busy mounts detach).
    public func unmountAll() {
        for target in mounted.reversed() where target != "/proc" {
            do { try SystemControl.unmount(target, detach: true) } catch { Log.debug("shutdown: \(error)") }
        }
    }
}

/// Writes a short string to a file (procfs knobs). Failures are logged at debug level.
func writeFile(_ path: String, _ text: String) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { Log.debug("open \(path) failed: errno \(errno)"); return }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// The OOM killer's cumulative kill count (/proc/vmstat `oom_kill`), nil when unavailable. Every exec reads it
/// (the baseline for `wasOOMKilled`), so it scans bytes instead of splitting lines, and a kernel without the
/// counter (`CONFIG_VM_EVENT_COUNTERS` off, as in the minimal guest kernel) is asked only once.
func oomKillCount() -> UInt64? {
    if OOMCounter.missing { return nil }
    guard let vmstat = readFileBytes("/proc/vmstat", limit: 64 << 10) else { return nil }
    guard let count = OOMCounter.parse(vmstat) else {
        OOMCounter.missing = !vmstat.isEmpty
        return nil
    }
    return count
}

/// Parsing and memory for `oomKillCount`.
enum OOMCounter {
    /// Set once /proc/vmstat was read and had no `oom_kill` line. vm-init's agent runs on one thread.
    nonisolated(unsafe) static var missing = false

    /// The value of the `oom_kill` line in /proc/vmstat's bytes, nil when there is none or it is not a number.
    static func parse(_ vmstat: [UInt8]) -> UInt64? {
        let key = Array("oom_kill ".utf8)
        var line = 0
        while line + key.count <= vmstat.count {
            let end = vmstat[line...].firstIndex(of: UInt8(ascii: "\n")) ?? vmstat.count
            if vmstat[line..<(line + key.count)].elementsEqual(key) {
                return UInt64(String(decoding: vmstat[(line + key.count)..<end], as: UTF8.self))
            }
            line = end + 1
        }
        return nil
    }
}

/// Whether the OOM killer killed `pid`: the /proc/vmstat `oom_kill` count grew since `baseline`, or, when the
/// kernel has no VM event counters (the minimal guest kernel: `CONFIG_VM_EVENT_COUNTERS` is off, so there is no
/// `oom_kill` line), the kernel log says "Killed process PID (".
func wasOOMKilled(pid: Int32, baseline: UInt64?) -> Bool {
    if let before = baseline, let now = oomKillCount() { return now > before }
    return kernelLogReportsOOMKill(pid: pid)
}

/// Scans /dev/kmsg (non-blocking, one record per read) for the OOM killer's "Killed process PID (" line.
func kernelLogReportsOOMKill(pid: Int32) -> Bool {
    let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    let needle = Array("Killed process \(pid) (".utf8)
    var record = [UInt8](repeating: 0, count: 8192)
    var found = false
    for _ in 0..<100_000 {
        let n = record.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EPIPE || errno == EINTR { continue }  // EPIPE: a record was overwritten; go on
            break  // EAGAIN: the end of the log
        }
        if n == 0 { break }
        let line = record[..<n]
        if line.count >= needle.count,
           (0...(line.count - needle.count)).contains(where: { line[$0..<($0 + needle.count)].elementsEqual(needle) }) {
            found = true
        }
    }
    return found
}
