// A third peer for BENCHMARKS.md section 8 (Benchmarks/guest.sh builds it): Benchmarks/guest_init.c built with
// -DDUTIES, written again in Embedded Swift (`swiftc -enable-experimental-feature Embedded`, no Swift runtime
// metadata, no reflection, generics specialized, the standard library's code linked only where used).
//
// It does what that C init does, in its order: mounts sysfs and devtmpfs, then vm-init's boot work (the other API
// mounts, `lo` up, Ctrl-Alt-Del off, the OOM and thrashing knobs, signalfd and epoll, the session cgroups with their
// controllers), finds the virtio-serial port named "vmchan", and says "einit MAIN_US OPEN_US DUTIES_US FAILED" like
// the C init's "cinit ..." greeting. Then any line from the host (guest_boot.py sends "bye") powers the VM off.
//
// It is written the way vm-init is (values, arrays and strings, typed throws, one error type), not as C in Swift
// syntax, so that its boot against the C init's measures what the language costs a TCG boot without the runtime and
// the binary size of a full static Swift program: vm-init's floor, were it built in Embedded Swift.
import CGuestLibc

/// A failed step: what was attempted and the errno it left.
struct StepError: Error {
    var step: String
    var errno: Int32

    init(_ step: String) {
        self.step = step
        self.errno = einit_errno()
    }
}

/// CLOCK_BOOTTIME in microseconds: the clock of vm-init's `boot_timings` and of the C init's greeting.
func bootMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_BOOTTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
}

/// A file descriptor this process owns; `close()` ends it.
struct Descriptor {
    let raw: Int32

    static func open(_ path: String, _ flags: Int32) throws(StepError) -> Descriptor {
        let fd = einit_open(path, flags | O_CLOEXEC)
        guard fd >= 0 else { throw StepError("open \(path)") }
        return Descriptor(raw: fd)
    }

    func read(max: Int = 4096) throws(StepError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = buffer.withUnsafeMutableBytes { CGuestLibc.read(raw, $0.baseAddress, $0.count) }
        guard n >= 0 else { throw StepError("read") }
        return Array(buffer[0..<n])
    }

    func writeAll(_ bytes: [UInt8]) throws(StepError) {
        var done = 0
        while done < bytes.count {
            let rest = bytes[done...]
            let n = rest.withUnsafeBytes { CGuestLibc.write(raw, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StepError("write") }
            done += n
        }
    }

    func close() { _ = CGuestLibc.close(raw) }
}

enum Files {
    static func read(_ path: String) throws(StepError) -> [UInt8] {
        let fd = try Descriptor.open(path, O_RDONLY)
        defer { fd.close() }
        return try fd.read()
    }

    static func write(_ path: String, _ text: String) throws(StepError) {
        let fd = try Descriptor.open(path, O_WRONLY)
        defer { fd.close() }
        try fd.writeAll(Array(text.utf8))
    }
}

/// One mount of the boot: the mount point is created first, as vm-init does.
struct MountPoint {
    var source: String
    var target: String
    var type: String
    var flags: Int32
    var options: String?

    func mount() throws(StepError) {
        mkdir(target, 0o755)
        let rc = options.map { CGuestLibc.mount(source, target, type, UInt(flags), $0) }
            ?? CGuestLibc.mount(source, target, type, UInt(flags), nil)
        guard rc == 0 else { throw StepError("mount \(target)") }
    }
}

/// vm-init's boot work, in its order, counting the steps that fail (the greeting reports them).
struct Duties {
    var failed = 0
    var epoll: Int32 = -1

    mutating func step(_ body: () throws(StepError) -> Void) {
        do { try body() } catch { failed += 1 }
    }

    mutating func run() {
        let nofile = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var files = rlimit()
        if getrlimit(nofile, &files) == 0 {
            files.rlim_cur = files.rlim_max
            setrlimit(nofile, &files)
        }
        _ = einit_prctl_set_name("einit")
        let noSuidDevExec = Int32(MS_NOSUID | MS_NODEV | MS_NOEXEC)
        step { () throws(StepError) in try MountPoint(source: "proc", target: "/proc", type: "proc", flags: noSuidDevExec).mount() }
        step { () throws(StepError) in _ = try Files.read("/proc/cmdline") }
        step { () throws(StepError) in
            var link = [CChar](repeating: 0, count: 64)
            let n = link.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress.map { readlink("/proc/self/ns/pid", $0, buffer.count) } ?? -1
            }
            guard n > 0 else { throw StepError("readlink /proc/self/ns/pid") }
        }
        step { () throws(StepError) in
            try MountPoint(source: "devpts", target: "/dev/pts", type: "devpts", flags: Int32(MS_NOSUID | MS_NOEXEC),
                           options: "newinstance,ptmxmode=0666,mode=0620").mount()
        }
        step { () throws(StepError) in
            guard mount("/dev/pts/ptmx", "/dev/ptmx", "none", UInt(MS_BIND), nil) == 0 else { throw StepError("bind /dev/ptmx") }
        }
        let tmpfs = [("shm", "/dev/shm", "mode=1777"), ("run", "/run", "mode=0755"), ("tmp", "/tmp", "mode=1777")]
        for (source, target, options) in tmpfs {
            step { () throws(StepError) in
                try MountPoint(source: source, target: target, type: "tmpfs", flags: Int32(MS_NOSUID | MS_NODEV),
                               options: options).mount()
            }
        }
        step { () throws(StepError) in
            try MountPoint(source: "cgroup2", target: "/sys/fs/cgroup", type: "cgroup2", flags: noSuidDevExec).mount()
        }

        step { () throws(StepError) in
            let sock = socket(AF_INET, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard sock >= 0 else { throw StepError("socket") }
            defer { _ = close(sock) }
            guard einit_interface_up(sock, "lo") == 0 else { throw StepError("lo up") }
        }
        step { () throws(StepError) in
            guard reboot(Int32(bitPattern: UInt32(RB_DISABLE_CAD))) == 0 else { throw StepError("Ctrl-Alt-Del off") }
        }
        step { () throws(StepError) in try Files.write("/proc/self/oom_score_adj", "-1000") }
        step { () throws(StepError) in try Files.write("/sys/kernel/mm/lru_gen/min_ttl_ms", "\(1000)") }

        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        self.epoll = epoll
        let signals = einit_signalfd()
        step { () throws(StepError) in
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: signals))
            guard epoll >= 0, signals >= 0, epoll_ctl(epoll, EPOLL_CTL_ADD, signals, &event) == 0 else {
                throw StepError("epoll and signalfd")
            }
        }
        while waitpid(-1, nil, WNOHANG) > 0 {}

        // The session cgroups: fc-sessions below the root, with the controllers offered among memory, pids, cpu.
        step { () throws(StepError) in
            guard mkdir("/sys/fs/cgroup/fc-sessions", 0o755) == 0 else { throw StepError("mkdir fc-sessions") }
        }
        step { () throws(StepError) in _ = try Descriptor.open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY) }  // kept open
        var offered: [String] = []
        step { () throws(StepError) in
            offered = try Files.read("/sys/fs/cgroup/cgroup.controllers")
                .split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
                .map { String(decoding: $0, as: UTF8.self) }
        }
        var wanted = ""
        for controller in ["memory", "pids", "cpu"] where offered.contains(controller) {
            wanted += (wanted.isEmpty ? "+" : " +") + controller
        }
        for directory in ["/sys/fs/cgroup", "/sys/fs/cgroup/fc-sessions"] {
            step { () throws(StepError) in
                guard !wanted.isEmpty else { throw StepError("no controllers offered") }
                try Files.write(directory + "/cgroup.subtree_control", wanted)
            }
        }
    }
}

/// The /dev node of the port named `name`, or nil while the driver has not announced it yet.
func openPort(named name: String) -> Descriptor? {
    guard let directory = opendir("/sys/class/virtio-ports") else { return nil }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let port = String(cString: einit_dirent_name(entry))
        if port.hasPrefix(".") { continue }
        guard let text = try? Files.read("/sys/class/virtio-ports/" + port + "/name") else { continue }
        let announced = text.split(separator: UInt8(ascii: "\n")).first.map { String(decoding: $0, as: UTF8.self) }
        if announced == name { return try? Descriptor.open("/dev/" + port, O_RDWR) }
    }
    return nil
}

func powerOff() -> Never {
    sync()
    reboot(Int32(bitPattern: UInt32(RB_AUTOBOOT)))
    while true { pause() }
}

@main
struct EmbeddedInit {
    static func main() {
        let mainAt = bootMicroseconds()
        mkdir("/sys", 0o555)
        mkdir("/dev", 0o755)
        mount("sysfs", "/sys", "sysfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), nil)
        mount("devtmpfs", "/dev", "devtmpfs", UInt(MS_NOSUID), "mode=0755")
        var duties = Duties()
        duties.run()
        let dutiesAt = bootMicroseconds()
        var port: Descriptor?
        for _ in 0..<5000 {
            port = openPort(named: "vmchan")
            if port != nil { break }
            usleep(1000)
        }
        guard let port else { powerOff() }
        var event = epoll_event(events: EPOLLIN.rawValue | EPOLLOUT.rawValue, data: epoll_data_t(fd: port.raw))
        if epoll_ctl(duties.epoll, EPOLL_CTL_ADD, port.raw, &event) != 0 { duties.failed += 1 }
        let greeting = "einit \(mainAt) \(bootMicroseconds()) \(dutiesAt) \(duties.failed)\n"
        do { try port.writeAll(Array(greeting.utf8)) } catch { powerOff() }
        _ = try? port.read(max: 64)
        powerOff()
    }
}
