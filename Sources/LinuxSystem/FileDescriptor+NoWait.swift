import CLinux
import Glibc

/// Reads and writes that never wait on a descriptor whose flags are not ours to change.
///
/// A pipe handed over by another process (SCM_RIGHTS: the exec client's stdin) shares its open file description
/// with the user's shell, so setting `O_NONBLOCK` on it would change it under them; yet a plain `read` may block
/// even after epoll said readable, when another process holding the same read end took the bytes first.
/// `preadv2(…, -1, RWF_NOWAIT)` asks for "only what is there now" per call instead. The same holds for the write
/// end of a pipe handed over (the exec client's stdout): `pwritev2(…, RWF_NOWAIT)` writes only what fits now.
extension FileDescriptor {
    /// One read at the current position that never waits, whatever `O_NONBLOCK` says (`preadv2` with
    /// `RWF_NOWAIT`): `.processed(0)` is end of file, `.wouldBlock` nothing to read now. EINTR is retried.
    /// Throws `EOPNOTSUPP` for a file that does not honour `RWF_NOWAIT` (see ``Pipe/honoursReadsWithoutWaiting``).
    public func readWithoutWaiting(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try ioResult(negatedErrno: "preadv2", "RWF_NOWAIT \(description)") {
            clinux_read_nowait(rawValue, buffer.baseAddress, buffer.count)
        }
    }

    /// One write at the current position that never waits, whatever `O_NONBLOCK` says (`pwritev2` with
    /// `RWF_NOWAIT`): `.processed(n)` for the count written, `.wouldBlock` when nothing fits now. A pipe without
    /// a reader throws `EPIPE` (SIGPIPE must be ignored). EINTR is retried.
    public func writeWithoutWaiting(_ bytes: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        guard bytes.count > 0 else { return .processed(0) }
        return try ioResult(negatedErrno: "pwritev2", "RWF_NOWAIT \(description)") {
            clinux_write_nowait(rawValue, bytes.baseAddress, bytes.count)
        }
    }

    /// Whether the descriptor was opened for writing (`O_WRONLY` or `O_RDWR` in its status flags).
    public func isWritable() throws(SystemError) -> Bool {
        let mode = try retryingOnEINTR("fcntl", description) { fcntl(rawValue, F_GETFL) } & O_ACCMODE
        return mode == O_WRONLY || mode == O_RDWR
    }
}

extension Pipe {
    /// Whether this kernel's pipes honour `RWF_NOWAIT` (recent kernels do; 6.18 does): an empty blocking pipe
    /// answers `EAGAIN` instead of `EOPNOTSUPP`. Probed once, on a pipe of its own.
    public static let honoursReadsWithoutWaiting: Bool = {
        guard let pipe = try? Pipe() else { return false }
        defer { pipe.close() }
        var byte: UInt8 = 0
        let result = withUnsafeMutableBytes(of: &byte) { try? pipe.readEnd.readWithoutWaiting(into: $0) }
        return result == .wouldBlock
    }()

    /// Whether this kernel's pipes honour `RWF_NOWAIT` for writes: a full blocking pipe answers `EAGAIN`
    /// instead of waiting or `EOPNOTSUPP`. Probed once, on a pipe of its own filled first.
    public static let honoursWritesWithoutWaiting: Bool = {
        guard let pipe = try? Pipe() else { return false }
        defer { pipe.close() }
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        // A default pipe holds 64 KiB; the probe's own few writes fill any size the kernel may have given it.
        for _ in 0..<64 {
            let result = chunk.withUnsafeBytes { try? pipe.writeEnd.writeWithoutWaiting($0) }
            guard let result else { return false }
            if result == .wouldBlock { return true }
        }
        return false
    }()
}
