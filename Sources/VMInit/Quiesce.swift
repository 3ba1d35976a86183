import LinuxSystem

/// What a freeze needs to know about the machine vm-init runs on.
enum Quiesce {
    /// Whether this process sees the kernel's own threads (kthreadd is pid 2 of the initial PID namespace): true
    /// in a VM, false in a test namespace or a container. File systems are frozen only then, because FIFREEZE
    /// freezes the whole file system, and in a namespace that is the host's.
    static func inInitialPIDNamespace() -> Bool {
        guard let stat = try? Files.readText("/proc/2/stat", limit: 4096), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 6, let flags = UInt64(fields[6]) else { return false }
        return flags & 0x0020_0000 != 0  // PF_KTHREAD
    }

    /// Mount points of the writable file systems on block devices (/proc/self/mountinfo), one per device: tmpfs,
    /// overlays, proc and the like keep nothing on a disk a snapshot copies, and a read-only one cannot change.
    static func writableBlockMounts() -> [String] {
        guard let info = try? Files.readText("/proc/self/mountinfo", limit: 1 << 20) else { return [] }
        var seen: Set<String> = []
        var mounts: [String] = []
        for line in info.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count, dash > 5 else { continue }
            let options = fields[5].split(separator: ",")
            let source = SessionCgroups.unescape(fields[dash + 2])
            guard options.contains("rw"), source.hasPrefix("/dev/"), Files.type(of: source) == .blockDevice,
                  !seen.contains(source) else { continue }
            seen.insert(source)
            mounts.append(SessionCgroups.unescape(fields[4]))
        }
        return mounts
    }

    /// Whether a stopped (SIGSTOP) process group leader has stopped, or is gone.
    static func hasStopped(_ pid: Int32) -> Bool {
        guard let stat = try? Files.readText("/proc/\(pid)/stat", limit: 4096), let close = stat.lastIndex(of: ")") else {
            return true
        }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state == "T" || state == "t" || state == "Z" || state == "X"
    }

    /// CLOCK_REALTIME − CLOCK_BOOTTIME in µs. Constant while the guest runs (except when someone sets the clock);
    /// a restore that brings the wall clock forward (Firecracker's `clock_realtime`, kvm-clock) moves it.
    static func clockOffsetMicroseconds() -> Int64 {
        SystemControl.wallClockNanoseconds() / 1000 - Int64(SystemControl.bootTimeMicroseconds())
    }
}
