import CLinux
import Glibc

/// An owned-by-convention file descriptor. A plain value: closing is explicit (`close()`), never implicit.
public struct FileDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// The raw descriptor number.
    public let rawValue: Int32

    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let standardInput = FileDescriptor(rawValue: 0)
    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    public var description: String { "fd \(rawValue)" }

    /// Opens a path (`O_CLOEXEC` is always added).
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws(SystemError) -> FileDescriptor {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            if Glibc.errno == EINTR { continue }
            throw SystemError.last("open", path)
        }
    }

    /// Reads up to `buffer.count` bytes. Returns the count (0 = end of file), or nil when a non-blocking
    /// descriptor has nothing to read (EAGAIN). EINTR is retried.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        while true {
            let n = Glibc.read(rawValue, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            switch Glibc.errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError.last("read", description)
            }
        }
    }

    /// Writes up to `bytes.count` bytes. Returns the count written; 0 when a non-blocking descriptor would block
    /// (EAGAIN). EINTR is retried. A closed reader is an error (`EPIPE`; SIGPIPE must be ignored).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        guard bytes.count > 0 else { return 0 }
        while true {
            let n = Glibc.write(rawValue, bytes.baseAddress, bytes.count)
            if n >= 0 { return n }
            switch Glibc.errno {
            case EINTR: continue
            case EAGAIN: return 0
            default: throw SystemError.last("write", description)
            }
        }
    }

    /// Writes all of `bytes`, blocking (for blocking descriptors; on EAGAIN it polls for writability).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try write(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            if n == 0 {
                var p = pollfd(fd: rawValue, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
            }
            offset += n
        }
    }

    /// Writes all of `bytes` (see ``writeAll(_:)-(UnsafeRawBufferPointer)``).
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var failure: SystemError?
        bytes.withUnsafeBytes { raw in
            do throws(SystemError) { try writeAll(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Bytes waiting to be read (FIONREAD) on a pipe, socket or terminal.
    public func bytesAvailable() throws(SystemError) -> Int {
        let n = clinux_bytes_readable(rawValue)
        guard n >= 0 else { throw SystemError("ioctl", errno: -n, "FIONREAD \(description)") }
        return Int(n)
    }

    /// Closes the descriptor. EINTR is not retried (Linux has already released it).
    public func close() {
        _ = Glibc.close(rawValue)
    }

    /// Sets or clears `O_NONBLOCK`.
    public func setNonBlocking(_ on: Bool = true) throws(SystemError) {
        let flags = fcntl(rawValue, F_GETFL)
        guard flags >= 0 else { throw SystemError.last("fcntl", description) }
        let next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        if next != flags, fcntl(rawValue, F_SETFL, next) < 0 { throw SystemError.last("fcntl", description) }
    }

    /// Sets or clears `FD_CLOEXEC`.
    public func setCloexec(_ on: Bool = true) throws(SystemError) {
        let flags = fcntl(rawValue, F_GETFD)
        guard flags >= 0 else { throw SystemError.last("fcntl", description) }
        let next = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC
        if next != flags, fcntl(rawValue, F_SETFD, next) < 0 { throw SystemError.last("fcntl", description) }
    }

    /// `dup2(self, target)`: makes `target` refer to this file (target is not close-on-exec afterwards).
    @discardableResult
    public func dup2(onto target: FileDescriptor) throws(SystemError) -> FileDescriptor {
        while true {
            if Glibc.dup2(rawValue, target.rawValue) >= 0 { return target }
            if Glibc.errno == EINTR { continue }
            throw SystemError.last("dup2", "\(rawValue) -> \(target.rawValue)")
        }
    }

    /// A close-on-exec duplicate.
    public func duplicate() throws(SystemError) -> FileDescriptor {
        let fd = fcntl(rawValue, F_DUPFD_CLOEXEC, 3)
        guard fd >= 0 else { throw SystemError.last("dup", description) }
        return FileDescriptor(rawValue: fd)
    }
}
