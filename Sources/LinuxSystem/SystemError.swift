import Glibc

/// The one error type of LinuxSystem: a failed system call.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Short stable name of the failed operation (`open`, `connect`, `epoll_ctl`, …; for spawn failures the
    /// child-path stage: `exec`, `cwd`, `uid`, …).
    public var code: String
    /// Human-readable context (a path, an address).
    public var message: String
    /// The errno value (Linux numbering); 0 when the failure was not a syscall's.
    public var errno: Int32

    public init(_ code: String, errno: Int32, _ message: String = "") {
        self.code = code
        self.errno = errno
        self.message = message
    }

    /// An error for the current `errno`.
    public static func last(_ code: String, _ message: String = "") -> SystemError {
        SystemError(code, errno: Glibc.errno, message)
    }

    /// `strerror` text for the errno.
    public var reason: String { errno == 0 ? "failed" : String(cString: strerror(errno)) }

    public var description: String {
        message.isEmpty ? "\(code): \(reason)" : "\(code) \(message): \(reason)"
    }
}
