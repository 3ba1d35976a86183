import CLinux
import Glibc

/// AF_VSOCK stream sockets (guest side). Every descriptor returned is close-on-exec and non-blocking.
public enum VsockSocket {
    /// The host's context id.
    public static let hostCID: UInt32 = 2

    /// Listens on `port` for any CID.
    public static func listen(port: UInt32, backlog: Int32 = 16) throws(SystemError) -> FileDescriptor {
        let fd = clinux_vsock_listen(port, backlog)
        guard fd >= 0 else { throw SystemError("vsock_listen", errno: -fd, "port \(port)") }
        return FileDescriptor(rawValue: fd)
    }

    /// Accepts one connection with the peer's CID and port; nil when none is pending.
    public static func accept(_ listener: FileDescriptor) throws(SystemError) -> (fd: FileDescriptor, cid: UInt32, port: UInt32)? {
        var cid: UInt32 = 0
        var port: UInt32 = 0
        let fd = clinux_vsock_accept(listener.rawValue, &cid, &port)
        if fd >= 0 { return (FileDescriptor(rawValue: fd), cid, port) }
        if -fd == EAGAIN || -fd == ECONNABORTED { return nil }
        throw SystemError("accept", errno: -fd, "vsock")
    }
}
