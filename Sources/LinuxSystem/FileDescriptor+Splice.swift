import CLinux
import Glibc

extension FileDescriptor {
    /// Moves up to `count` bytes from this descriptor, a pipe's read end, to `target` with one `splice(2)`
    /// (`SPLICE_F_NONBLOCK | SPLICE_F_MOVE`): the kernel hands the pipe's pages on (a socket, a virtio-serial
    /// port) instead of copying them through user space. Neither descriptor's flags change; the pipe side never
    /// blocks, the target side blocks unless the target is non-blocking.
    ///
    /// Returns `.processed(n)` for the bytes moved (0: the pipe is empty and has no writer left) and
    /// `.wouldBlock` when the target has no room or the pipe is empty with a writer. EINTR is retried.
    /// A target that cannot take spliced pages fails with EINVAL.
    public func splice(to target: FileDescriptor, count: Int) throws(SystemError) -> IOResult<Int> {
        guard count > 0 else { return .processed(0) }
        return try ioResult(negatedErrno: "splice", "\(description) to \(target.description)") {
            clinux_splice_from_pipe(rawValue, target.rawValue, UInt(count))
        }
    }
}
