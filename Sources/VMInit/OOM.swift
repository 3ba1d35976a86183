import Glibc
import LinuxSystem

// OOM-kill detection for `exit.oom_killed`: the /proc/vmstat counter, with the kernel log as the fallback.

/// The OOM killer's cumulative kill count (/proc/vmstat `oom_kill`), nil when unavailable. Every exec reads it
/// (the baseline for `wasOOMKilled`), so it scans bytes instead of splitting lines, and a kernel without the
/// counter (`CONFIG_VM_EVENT_COUNTERS` off, as in the minimal guest kernel) is asked only once.
func oomKillCount() -> UInt64? {
    if OOMCounter.missing { return nil }
    guard let vmstat = try? Files.readAll("/proc/vmstat", limit: 64 << 10) else { return nil }
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
    guard let fd = try? FileDescriptor.open("/dev/kmsg", flags: O_RDONLY | O_NONBLOCK) else { return false }
    defer { fd.close() }
    let needle = Array("Killed process \(pid) (".utf8)
    let record = ReadBuffer(capacity: 8192)
    var found = false
    for _ in 0..<100_000 {
        let n: Int
        do {
            // nil (would block): the end of the log.
            guard let count = try record.read(from: fd), count > 0 else { break }
            n = count
        } catch where error.errno == EPIPE {
            continue  // a record was overwritten before we read it; go on with the next
        } catch {
            break
        }
        let line = record.prefix(n)
        if line.count >= needle.count,
           (0...(line.count - needle.count)).contains(where: { line[$0..<($0 + needle.count)].elementsEqual(needle) }) {
            found = true
        }
    }
    return found
}
