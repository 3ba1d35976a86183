import CLinux
import Glibc

/// Reads that never wait on a descriptor whose flags are not ours to change.
///
/// A pipe handed over by another process (SCM_RIGHTS: the exec client's stdin) shares its open file description
/// with the user's shell, so setting `O_NONBLOCK` on it would change it under them; yet a plain `read` may block
/// even after epoll said readable, when another process holding the same read end took the bytes first.
/// `preadv2(…, -1, RWF_NOWAIT)` asks for "only what is there now" per call instead.
extension FileDescriptor {
    /// One read at the current position that never waits, whatever `O_NONBLOCK` says (`preadv2` with
    /// `RWF_NOWAIT`): `.processed(0)` is end of file, `.wouldBlock` nothing to read now. EINTR is retried.
    /// Throws `EOPNOTSUPP` for a file that does not honour `RWF_NOWAIT` (see ``Pipe/honoursReadsWithoutWaiting``).
    public func readWithoutWaiting(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try ioResult(negatedErrno: "preadv2", "RWF_NOWAIT \(description)") {
            clinux_read_nowait(rawValue, buffer.baseAddress, buffer.count)
        }
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
}
