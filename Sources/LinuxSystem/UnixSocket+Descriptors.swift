import CLinux
import Glibc

/// Descriptors passed along with a stream's bytes (`SCM_RIGHTS` on AF_UNIX sockets).
///
/// Linux attaches them to the first byte of the `sendmsg` that carried them; a `recvmsg` returns them with the
/// read that reaches that byte (possibly after bytes sent earlier) and stops right after that message's bytes,
/// so each received descriptor arrives no later than the last byte it was sent with.
extension UnixSocket {
    /// Most descriptors one message carries (more sent at once are closed by the kernel: the receiver sees
    /// ``ReceivedDescriptors/truncated``).
    public static let maxDescriptorsPerMessage = Int(CLINUX_FDS_PER_MESSAGE)

    /// One `sendmsg` of `bytes` (not empty) with `descriptors` (1…``maxDescriptorsPerMessage``) attached to the
    /// first byte. Returns the count sent; when it is short of `bytes.count` the descriptors still went, and the
    /// rest goes with plain writes. `.wouldBlock`: a full non-blocking socket; nothing was sent. A closed peer is
    /// an error (`EPIPE`, no SIGPIPE).
    public static func send(_ bytes: UnsafeRawBufferPointer, passing descriptors: [FileDescriptor],
                            over socket: FileDescriptor) throws(SystemError) -> IOResult<Int> {
        let raw = descriptors.map { $0.rawValue }
        return try ioResult(negatedErrno: "sendmsg", "SCM_RIGHTS on \(socket)") {
            raw.withUnsafeBufferPointer { fds in
                clinux_send_fds(socket.rawValue, bytes.baseAddress, bytes.count, fds.baseAddress, Int32(fds.count))
            }
        }
    }

    /// One `recvmsg` (`MSG_CMSG_CLOEXEC`) into `buffers`, in order (at most ``FileDescriptor/maxVectoredBuffers``
    /// of them). Returns the count read (0 = end of stream), or nil when a non-blocking socket has nothing
    /// (EAGAIN); descriptors passed with the bytes read are appended to `descriptors` (the caller owns them). EINTR
    /// is retried.
    public static func receive(_ socket: FileDescriptor, into buffers: [UnsafeMutableRawBufferPointer],
                               descriptors: inout [FileDescriptor]) throws(SystemError) -> ReceivedDescriptors {
        let count = min(buffers.count, FileDescriptor.maxVectoredBuffers)
        var received: Int32 = 0
        var truncated: Int32 = 0
        let n = withUnsafeTemporaryAllocation(of: Int32.self, capacity: maxDescriptorsPerMessage) { fds in
            let n = withUnsafeTemporaryAllocation(of: iovec.self, capacity: max(count, 1)) { vectors in
                for i in 0..<count { vectors[i] = iovec(iov_base: buffers[i].baseAddress, iov_len: buffers[i].count) }
                return clinux_recv_fds(socket.rawValue, vectors.baseAddress, Int32(count), fds.baseAddress,
                                       &received, &truncated)
            }
            for fd in fds.prefix(Int(received)) { descriptors.append(FileDescriptor(rawValue: fd)) }
            return n
        }
        if n >= 0 { return ReceivedDescriptors(count: n, descriptors: Int(received), truncated: truncated != 0) }
        let error = Int32(truncatingIfNeeded: -n)
        if error == EAGAIN || error == EWOULDBLOCK { return ReceivedDescriptors(count: nil, descriptors: 0, truncated: false) }
        throw SystemError("recvmsg", errno: error, socket.description)
    }
}

/// What one ``UnixSocket/receive(_:into:descriptors:)`` brought.
public struct ReceivedDescriptors: Sendable, Equatable {
    /// Bytes read (0 = end of stream); nil when a non-blocking socket had nothing.
    public var count: Int?
    /// How many descriptors were appended.
    public var descriptors: Int
    /// The peer sent more descriptors than one message may carry here (`MSG_CTRUNC`); the kernel closed the rest,
    /// so those appended are an incomplete set.
    public var truncated: Bool
}
