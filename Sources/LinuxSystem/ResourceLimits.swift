import Glibc

/// This process's resource limits (`getrlimit`/`setrlimit`). Children get theirs through ``SpawnOptions``.
public enum ResourceLimits {
    /// Where the kernel's ceiling for RLIMIT_NOFILE lives.
    static let openFilesCeilingPath = "/proc/sys/fs/nr_open"

    /// The current soft and hard limit of an `RLIMIT_*` resource.
    public static func current(_ resource: Int32) throws(SystemError) -> (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 else {
            throw SystemError.last("getrlimit", "resource \(resource)")
        }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Sets both limits of an `RLIMIT_*` resource (raising the hard limit needs CAP_SYS_RESOURCE).
    public static func set(_ resource: Int32, soft: UInt64, hard: UInt64) throws(SystemError) {
        var limit = rlimit(rlim_cur: rlim_t(soft), rlim_max: rlim_t(hard))
        guard setrlimit(__rlimit_resource_t(UInt32(resource)), &limit) == 0 else {
            throw SystemError.last("setrlimit", "resource \(resource) to \(soft)/\(hard)")
        }
    }

    /// Raises RLIMIT_NOFILE as far as this process may, as vminitd's `adjustLimits` does: soft = hard = the
    /// kernel's `nr_open` when privileged, else soft = the current hard limit. The default soft limit (1024)
    /// would otherwise cap how many sessions, pipes and connections PID 1 can hold. Returns the new soft limit.
    @discardableResult
    public static func raiseOpenFilesToMaximum() throws(SystemError) -> UInt64 {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        let (soft, hard) = try current(resource)
        if let ceiling = Files.readValue(openFilesCeilingPath).flatMap({ UInt64($0) }), ceiling > soft {
            do {
                try set(resource, soft: ceiling, hard: max(ceiling, hard))
                return ceiling
            } catch where error.errno == EPERM {
                // Unprivileged (tests, a user namespace): fall back to the hard limit we already have.
            }
        }
        if soft < hard { try set(resource, soft: hard, hard: hard) }
        return max(soft, hard)
    }
}
