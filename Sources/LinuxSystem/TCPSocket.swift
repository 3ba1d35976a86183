import Glibc

/// IPv4 TCP listening sockets (the supervisor's metrics endpoint). Accept with ``UnixSocket/accept(_:)``, which
/// is `accept4` for any stream socket. Every descriptor is close-on-exec and non-blocking.
public enum TCPSocket {
    /// Listens on `address` (dotted IPv4, e.g. `127.0.0.1` or `0.0.0.0`) and `port` (0: the kernel picks one; see
    /// ``localPort(_:)``), with SO_REUSEADDR so a restarted supervisor can bind at once.
    public static func listen(address: String, port: UInt16, backlog: Int32 = 16) throws(SystemError) -> FileDescriptor {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else {
            throw SystemError("listen", errno: EINVAL, "\(address) is not an IPv4 address")
        }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket", address) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError.last(rc == 0 ? "listen" : "bind", "\(address):\(port)")
            Glibc.close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }

    /// The port a listening socket is bound to.
    public static func localPort(_ fd: FileDescriptor) -> UInt16? {
        var sin = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd.rawValue, $0, &length) }
        }
        return rc == 0 ? UInt16(bigEndian: sin.sin_port) : nil
    }
}
