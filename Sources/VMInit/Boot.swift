import Glibc
import LinuxSystem

/// PID 1's start-up duties. Every failure is logged and boot continues.
public struct Boot {
    /// Milestones in microseconds of CLOCK_BOOTTIME, sent in `hello.boot_timings`.
    public private(set) var timings: [String: UInt64] = [:]
    /// Mount points this process mounted, in mount order (shutdown unmounts them in reverse).
    public private(set) var mounted: [String] = []
    /// PID 1 of the initial PID namespace: a VM of its own, where every other process at boot is a kernel thread
    /// (set by ``mountForAgent()``; never in a container or the namespace tests).
    public private(set) var ownsMachine = false

    public init() {}

    /// Records a milestone (now, or at `microseconds` of CLOCK_BOOTTIME).
    public mutating func mark(_ name: String, at microseconds: UInt64 = SystemControl.bootTimeMicroseconds()) {
        timings[name] = microseconds
    }

    /// The host cgroup2 mount, opened by ``mountForAgent()`` before sysfs could cover it, until
    /// ``performWorkloadDuties(hostname:memoryMinTTLMs:)`` binds it (outside a VM of its own only).
    var hostCgroup2: FileDescriptor?

    /// What the agent needs before it can say hello: proc, sysfs (the virtio port's name) and devtmpfs (its
    /// node, /dev/console), and Ctrl-Alt-Del's immediate reboot off. The rest waits for
    /// ``performWorkloadDuties(hostname:memoryMinTTLMs:)``, which vm-init runs right after its hello, before it
    /// reads the host's first frame: the host's round trip and the duties overlap, and no request is served
    /// before they are done.
    public mutating func mountForAgent() {
        if SystemControl.procMountedBeforeMain { mounted.append("/proc") }
        mountProcIfNeeded()
        ownsMachine = Files.readLink("/proc/self/ns/pid") == Self.initialPIDNamespace
        // Outside a VM of its own, the host's cgroup2 mount, held before sysfs may cover it (see mountCgroup2).
        hostCgroup2 = ownsMachine ? nil : SessionCgroups.cgroup2Mount().flatMap {
            try? FileDescriptor.open($0.0, flags: O_RDONLY | O_DIRECTORY)
        }
        mountIfPossible("sysfs", "/sys", "sysfs", [.noSuid, .noDev, .noExec])
        mountIfPossible("devtmpfs", "/dev", "devtmpfs", [.noSuid], data: "mode=0755")
        do { try SystemControl.reboot(.disableCtrlAltDel) } catch {
            // EINVAL inside a PID namespace: Ctrl-Alt-Del is the host's business there.
            if error.errno != EINVAL { Log.error("boot: disable Ctrl-Alt-Del: \(error)") }
        }
        mark("mounted")
    }

    /// What only workloads need: the devpts, shm, run, tmp and cgroup2 mounts, `lo` up, the hostname when
    /// configured, this process out of the OOM killer's reach and, in a VM, the kernel's thrashing limit
    /// (`memoryMinTTLMs`, see ``Config/memoryMinTTLMs``).
    public mutating func performWorkloadDuties(hostname: String?, memoryMinTTLMs: UInt64) {
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
        mountCgroup2(host: hostCgroup2)
        hostCgroup2?.close()
        hostCgroup2 = nil

        do { try SystemControl.interfaceUp("lo") } catch { Log.error("boot: lo up: \(error)") }
        if let hostname {
            do { try SystemControl.setHostname(hostname) } catch { Log.error("boot: hostname: \(error)") }
        }
        do { try Files.writeExisting("/proc/self/oom_score_adj", "-1000") } catch { Log.debug("boot: \(error)") }
        if memoryMinTTLMs > 0 && ownsMachine { setThrashingLimit(milliseconds: memoryMinTTLMs) }
        mark("duties")
    }

    /// The inode of the initial PID namespace (the kernel's PROC_PID_INIT_INO): `/proc/self/ns/pid` names it
    /// only outside every container, which for PID 1 means a VM of its own.
    static let initialPIDNamespace = "pid:[4026531836]"

    /// Where boot mounts the cgroup2 hierarchy.
    static let cgroupMountPoint = "/sys/fs/cgroup"

    /// Writes the multi-gen LRU's `min_ttl_ms`. Only in the initial PID namespace (``ownsMachine``): the knob is
    /// the kernel's, so vm-init run as a container's PID 1 (the namespace tests) must not turn it on for the host.
    /// A kernel without `CONFIG_LRU_GEN` has no such file; that is logged at debug level.
    func setThrashingLimit(milliseconds: UInt64) {
        do { try Files.writeExisting("/sys/kernel/mm/lru_gen/min_ttl_ms", "\(milliseconds)") } catch {
            Log.debug("boot: lru_gen min_ttl_ms: \(error)")
        }
    }

    /// cgroup2 on ``cgroupMountPoint``. In a VM of its own, a fresh mount: the VM's hierarchy. Elsewhere (a
    /// container, the namespace tests) the hierarchy is the host's, and a bind of the host's mount (`host`,
    /// opened before sysfs could cover it) shows the same tree without a new mount of it. A new mount from the
    /// initial cgroup namespace would apply its options to the host's hierarchy, clearing those not given
    /// (`apply_cgroup_root_flags`: nsdelegate, memory_recursiveprot, …), and on this host's Linux 6.18 it takes
    /// 16–47 ms against 0.1 ms for a bind. Without a visible host mount, or when the bind fails, a new mount
    /// with the host's options (``SessionCgroups/hierarchyOptions(mountInfo:)``).
    mutating func mountCgroup2(host: FileDescriptor?) {
        let flags: SystemControl.MountFlags = [.noSuid, .noDev, .noExec]
        if let host {
            do { try Files.makeDirectory(Self.cgroupMountPoint) } catch { Log.debug("boot: \(error)") }
            do {
                try SystemControl.mount("/proc/self/fd/\(host.rawValue)", on: Self.cgroupMountPoint, type: "none", flags: [.bind])
                mounted.append(Self.cgroupMountPoint)
                do {
                    try SystemControl.mount("none", on: Self.cgroupMountPoint, type: "none", flags: flags.union([.remount, .bind]))
                } catch {
                    Log.debug("boot: nosuid,nodev,noexec on the bound \(Self.cgroupMountPoint): \(error)")
                }
                return
            } catch {
                Log.debug("boot: bind the host's cgroup2 on \(Self.cgroupMountPoint): \(error)")
            }
        }
        mountIfPossible("cgroup2", Self.cgroupMountPoint, "cgroup2", flags, data: ownsMachine ? nil : SessionCgroups.hierarchyOptions())
    }

    /// Mounts proc unless /proc already belongs to this PID namespace (where we are PID 1).
    mutating func mountProcIfNeeded() {
        if Files.readLink("/proc/self") == "\(getpid())" { return }
        mountIfPossible("proc", "/proc", "proc", [.noSuid, .noDev, .noExec])
    }

    mutating func mountIfPossible(_ source: String, _ target: String, _ type: String,
                                  _ flags: SystemControl.MountFlags, data: String? = nil) {
        do { try Files.makeDirectory(target) } catch { Log.debug("boot: \(error)") }
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
