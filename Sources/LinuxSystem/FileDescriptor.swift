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
        FileDescriptor(rawValue: try retryingOnEINTR("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) })
    }

    /// One `read(2)` into `buffer`: `.processed(0)` is end of file, `.wouldBlock` a non-blocking descriptor
    /// with nothing to read. EINTR is retried.
    public func readSome(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try ioResult("read", description) { Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
    }

    /// One `write(2)` of `bytes`: `.processed(n)` for the count written (0 only for an empty buffer),
    /// `.wouldBlock` when a non-blocking descriptor has no room. EINTR is retried. A closed reader is an error
    /// (`EPIPE`; SIGPIPE must be ignored).
    public func writeSome(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        guard bytes.count > 0 else { return .processed(0) }
        return try ioResult("write", description) { Glibc.write(rawValue, bytes.baseAddress, bytes.count) }
    }

    /// Reads up to `buffer.count` bytes. Returns the count (0 = end of file), or nil when a non-blocking
    /// descriptor has nothing to read (EAGAIN). EINTR is retried.
    /// - Note: the older shape of ``readSome(into:)``; its call sites move to that, then this goes.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        try readSome(into: buffer).value
    }

    /// Writes up to `bytes.count` bytes. Returns the count written; 0 when a non-blocking descriptor would block
    /// (EAGAIN). EINTR is retried. A closed reader is an error (`EPIPE`; SIGPIPE must be ignored).
    /// - Note: the older shape of ``writeSome(_:)``; its call sites move to that, then this goes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> Int {
        try writeSome(bytes).value ?? 0
    }

    /// Writes all of `bytes`, blocking (for a non-blocking descriptor it waits for room between writes).
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            switch try writeSome(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .processed(let n): offset += n
            case .wouldBlock: _ = try waitWritable(until: Clock.deadline(after: .seconds(1)))
            }
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

    /// Reads until end of file or `limit` bytes, whichever comes first (blocking descriptors).
    public func readToEnd(limit: Int = 4 << 20) throws(SystemError) -> [UInt8] {
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
        defer { chunk.deallocate() }
        while bytes.count < limit {
            let want = min(chunk.count, limit - bytes.count)
            switch try readSome(into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<want])) {
            case .processed(0): return bytes
            case .processed(let n): bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[..<n]))
            case .wouldBlock: _ = try waitReadable(until: Clock.deadline(after: .seconds(1)))
            }
        }
        return bytes
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

    /// `dup2(self, target)`: makes `target` refer to this file (target is not close-on-exec afterwards).
    @discardableResult
    public func dup2(onto target: FileDescriptor) throws(SystemError) -> FileDescriptor {
        _ = try retryingOnEINTR("dup2", "\(rawValue) -> \(target.rawValue)") { Glibc.dup2(rawValue, target.rawValue) }
        return target
    }

    /// A close-on-exec duplicate.
    public func duplicate() throws(SystemError) -> FileDescriptor {
        FileDescriptor(rawValue: try retryingOnEINTR("dup", description) { fcntl(rawValue, F_DUPFD_CLOEXEC, 3) })
    }
}
