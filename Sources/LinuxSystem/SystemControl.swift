import CLinux
import Glibc

/// Whole-system calls PID 1 needs: mounts, reboot, clocks, prctl, interfaces. Thin: each returns or throws.
public enum SystemControl {
    /// reboot(2) commands.
    public enum RebootCommand: Sendable {
        case autoboot, powerOff, halt, disableCtrlAltDel, enableCtrlAltDel
    }

    /// `reboot(cmd)`. For `autoboot`/`powerOff` it does not return on success.
    public static func reboot(_ command: RebootCommand) throws(SystemError) {
        let cmd: Int32 = switch command {
        case .autoboot: Int32(CLINUX_REBOOT_AUTOBOOT)
        case .powerOff: Int32(CLINUX_REBOOT_POWER_OFF)
        case .halt: Int32(CLINUX_REBOOT_HALT)
        case .disableCtrlAltDel: Int32(CLINUX_REBOOT_DISABLE_CAD)
        case .enableCtrlAltDel: Int32(CLINUX_REBOOT_ENABLE_CAD)
        }
        let rc = clinux_reboot(cmd)
        guard rc == 0 else { throw SystemError("reboot", errno: -rc) }
    }

    /// Mount flags.
    public struct MountFlags: OptionSet, Sendable {
        public let rawValue: UInt
        public init(rawValue: UInt) { self.rawValue = rawValue }
        public static let noSuid = MountFlags(rawValue: clinux_ms_nosuid())
        public static let noDev = MountFlags(rawValue: clinux_ms_nodev())
        public static let noExec = MountFlags(rawValue: clinux_ms_noexec())
        public static let relatime = MountFlags(rawValue: clinux_ms_relatime())
        public static let bind = MountFlags(rawValue: clinux_ms_bind())
        public static let readOnly = MountFlags(rawValue: clinux_ms_rdonly())
        public static let remount = MountFlags(rawValue: clinux_ms_remount())
        public static let move = MountFlags(rawValue: clinux_ms_move())
        /// With `bind`: the whole subtree (`rbind`); with a propagation flag: every mount below too.
        public static let recursive = MountFlags(rawValue: clinux_ms_rec())
        public static let synchronous = MountFlags(rawValue: clinux_ms_sync())
        public static let dirSync = MountFlags(rawValue: clinux_ms_dirsync())
        public static let noAtime = MountFlags(rawValue: clinux_ms_noatime())
        public static let noDirAtime = MountFlags(rawValue: clinux_ms_nodiratime())
        public static let strictAtime = MountFlags(rawValue: clinux_ms_strictatime())
        public static let lazyTime = MountFlags(rawValue: clinux_ms_lazytime())
        public static let mandatoryLocking = MountFlags(rawValue: clinux_ms_mandlock())
        // Propagation types: a mount call changes only the propagation when one of these is given.
        public static let privatePropagation = MountFlags(rawValue: clinux_ms_private())
        public static let slavePropagation = MountFlags(rawValue: clinux_ms_slave())
        public static let sharedPropagation = MountFlags(rawValue: clinux_ms_shared())
        public static let unbindable = MountFlags(rawValue: clinux_ms_unbindable())
    }

    /// `mount(source, target, fstype, flags, data)`.
    public static func mount(_ source: String, on target: String, type: String, flags: MountFlags = [],
                             data: String? = nil) throws(SystemError) {
        let rc = withOptionalCString(data) { clinux_mount(source, target, type, flags.rawValue, $0) }
        guard rc == 0 else { throw SystemError("mount", errno: -rc, "\(type) on \(target)") }
    }

    /// `mount(NULL, target, NULL, flags, data)`: a remount or a propagation change of an existing mount.
    public static func changeMount(_ target: String, flags: MountFlags, data: String? = nil) throws(SystemError) {
        let rc = withOptionalCString(data) { clinux_mount(nil, target, nil, flags.rawValue, $0) }
        guard rc == 0 else { throw SystemError("mount", errno: -rc, "change \(target)") }
    }

    /// `chroot(path)`: the calling process's root directory (inherited by every later child).
    public static func changeRoot(_ path: String) throws(SystemError) {
        guard Glibc.chroot(path) == 0 else { throw SystemError.last("chroot", path) }
    }

    /// `chdir(path)`.
    public static func changeDirectory(_ path: String) throws(SystemError) {
        guard Glibc.chdir(path) == 0 else { throw SystemError.last("chdir", path) }
    }

    /// `umount2(target, detach ? MNT_DETACH : 0)`.
    public static func unmount(_ target: String, detach: Bool = true) throws(SystemError) {
        let rc = clinux_umount(target, detach ? 1 : 0)
        guard rc == 0 else { throw SystemError("umount", errno: -rc, target) }
    }

    /// Whether the pre-main constructor mounted /proc (static PID 1 started without it).
    public static var procMountedBeforeMain: Bool { clinux_early_proc_mounted() != 0 }

    /// CLOCK_BOOTTIME in microseconds.
    public static func bootTimeMicroseconds() -> UInt64 { clinux_boottime_us() }

    /// CLOCK_BOOTTIME in microseconds when this process's first constructor ran (before the Swift runtime), 0 if unknown.
    public static var processStartBootTimeMicroseconds: UInt64 { clinux_process_start_boottime_us() }

    /// This process's arguments (`argv`), as its first constructor saw them: `CommandLine.arguments`, also where
    /// Embedded Swift has no `CommandLine`.
    public static var processArguments: [String] {
        (0..<clinux_process_argc()).compactMap { clinux_process_argv($0).map { String(cString: $0) } }
    }

    /// CLOCK_REALTIME in nanoseconds since the epoch.
    public static func wallClockNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// `count` bytes from the kernel's CSPRNG (getrandom(2), blocking only before the pool is initialised).
    public static func randomBytes(_ count: Int) throws(SystemError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = bytes.withUnsafeMutableBytes { clinux_getrandom($0.baseAddress! + filled, count - filled, 0) }
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw SystemError.last("getrandom")
            }
            filled += n
        }
        return bytes
    }

    /// Sets CLOCK_REALTIME.
    public static func setWallClock(nanoseconds: Int64) throws(SystemError) {
        let rc = clinux_set_realtime(nanoseconds)
        guard rc == 0 else { throw SystemError("clock_settime", errno: -rc) }
    }

    /// sethostname(2).
    public static func setHostname(_ name: String) throws(SystemError) {
        let count = name.utf8.count
        let rc = name.withCString { sethostname($0, count) }
        guard rc == 0 else { throw SystemError.last("sethostname", name) }
    }

    /// Sets IFF_UP on an interface (e.g. `lo`).
    public static func interfaceUp(_ name: String) throws(SystemError) {
        let rc = clinux_interface_up(name)
        guard rc == 0 else { throw SystemError("ioctl", errno: -rc, "SIOCSIFFLAGS \(name)") }
    }

    /// The kernel index of a network interface (`if_nametoindex`), nil when there is no such interface.
    public static func interfaceIndex(_ name: String) -> Int32? {
        let index = if_nametoindex(name)
        return index > 0 ? Int32(bitPattern: index) : nil
    }

    /// PR_SET_CHILD_SUBREAPER.
    public static func setChildSubreaper(_ on: Bool = true) throws(SystemError) {
        let rc = clinux_set_child_subreaper(on ? 1 : 0)
        guard rc == 0 else { throw SystemError("prctl", errno: -rc, "PR_SET_CHILD_SUBREAPER") }
    }

    /// PR_SET_PDEATHSIG for the calling thread.
    public static func setParentDeathSignal(_ signal: Int32) throws(SystemError) {
        let rc = clinux_set_pdeathsig(signal)
        guard rc == 0 else { throw SystemError("prctl", errno: -rc, "PR_SET_PDEATHSIG") }
    }

    /// Ignores a signal (e.g. SIGPIPE) with `signal(sig, SIG_IGN)`.
    public static func ignoreSignal(_ signal: Int32) {
        _ = Glibc.signal(signal, SIG_IGN)
    }

    /// sync(2).
    public static func sync() { Glibc.sync() }
}
