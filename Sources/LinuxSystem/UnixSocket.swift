import CLinux
import Glibc

/// AF_UNIX stream sockets. Every descriptor returned is close-on-exec.
public enum UnixSocket {
    /// Longest usable `sun_path` (108 bytes including the terminating NUL).
    public static let maxPathBytes = 107

    /// Creates a listening socket at `path` (non-blocking). A stale socket file at `path` is removed first;
    /// any other kind of file there is an error (`EEXIST`).
    public static func listen(path: String, backlog: Int32 = 64) throws(SystemError) -> FileDescriptor {
        var address = try makeAddress(path)
        if Files.exists(path) {
            guard Files.type(of: path, followingSymlinks: false) == .socket else {
                throw SystemError("listen", errno: EEXIST, "\(path) exists and is not a socket")
            }
            try Files.remove(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket", path) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let error = SystemError.last("bind", path)
            Glibc.close(fd)
            throw error
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError.last("listen", path)
            Glibc.close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Accepts one connection (close-on-exec, non-blocking). Nil when none is pending.
    public static func accept(_ listener: FileDescriptor) throws(SystemError) -> FileDescriptor? {
        while true {
            let fd = clinux_accept(listener.rawValue)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            switch -fd {
            case ECONNABORTED: continue
            case EAGAIN: return nil
            default: throw SystemError("accept", errno: -fd, listener.description)
            }
        }
    }

    /// Connects to `path`. The connect itself blocks (Unix-socket connects complete at once unless the backlog
    /// is full); with `nonBlocking` the returned descriptor is then switched to non-blocking mode.
    public static func connect(path: String, nonBlocking: Bool = false) throws(SystemError) -> FileDescriptor {
        var address = try makeAddress(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError.last("socket", path) }
        do {
            _ = try retryingOnEINTR("connect", path) {
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                    }
                }
            }
        } catch {
            Glibc.close(fd)
            throw error
        }
        let result = FileDescriptor(rawValue: fd)
        if nonBlocking {
            do { try result.setNonBlocking() } catch { result.close(); throw error }
        }
        return result
    }

    /// A connected pair of AF_UNIX stream sockets (close-on-exec).
    public static func socketPair(nonBlocking: Bool = false) throws(SystemError) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | (nonBlocking ? Int32(SOCK_NONBLOCK.rawValue) : 0)
        let rc = fds.withUnsafeMutableBufferPointer { socketpair(AF_UNIX, type, 0, $0.baseAddress) }
        guard rc == 0 else { throw SystemError.last("socketpair") }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }

    /// Sends `descriptor` over the connected socket `fd` in one message whose data is `name` (SCM_RIGHTS, one fd).
    public static func sendDescriptor(_ descriptor: FileDescriptor, over fd: FileDescriptor, name: String) throws(SystemError) {
        let bytes = Array(name.utf8)
        let rc = bytes.withUnsafeBytes { clinux_send_fd(fd.rawValue, $0.baseAddress, $0.count, descriptor.rawValue) }
        guard rc == 0 else { throw SystemError("sendmsg", errno: -rc, "SCM_RIGHTS on \(fd)") }
    }

    /// `shutdown(SHUT_WR)`: the peer reads end-of-file; we can still read.
    public static func shutdownWrite(_ fd: FileDescriptor) {
        _ = shutdown(fd.rawValue, Int32(SHUT_WR))
    }

    private static func makeAddress(_ path: String) throws(SystemError) -> sockaddr_un {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw SystemError("socket_path", errno: EINVAL, "empty socket path") }
        guard bytes.count <= maxPathBytes else {
            throw SystemError("socket_path", errno: ENAMETOOLONG,
                              "socket path is \(bytes.count) bytes, the limit is \(maxPathBytes): \(path)")
        }
        guard !bytes.contains(0) else { throw SystemError("socket_path", errno: EINVAL, "socket path contains NUL") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        return address
    }
}

/// Who is at the other end of a connected AF_UNIX socket (SO_PEERCRED: the peer's credentials when it
/// connected).
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

extension UnixSocket {
    /// The peer's pid, uid and gid (SO_PEERCRED).
    public static func peerCredentials(_ fd: FileDescriptor) throws(SystemError) -> PeerCredentials {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides the type without _GNU_SOURCE).
        var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, UInt32.max, UInt32.max)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 else {
            throw SystemError.last("getsockopt", "SO_PEERCRED \(fd)")
        }
        return PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid)
    }
}
