import Glibc
import LinuxSystem
import VsockTransport

/// The control socket (`control.sock`, mode 0600) in the VM's state directory. Only the supervisor's own uid
/// (normally root) can connect; each connection is a ``ControlClient``.
final class ControlServer {
    let path: String
    private let listener: Listener
    private unowned let loop: EventLoop
    private unowned let host: any ControlHost
    private var clients: [ObjectIdentifier: ControlClient] = [:]
    static let maxClients = 1024

    init(path: String, loop: EventLoop, host: any ControlHost) throws(SystemError) {
        self.path = path
        self.loop = loop
        self.host = host
        let oldMask = umask(0o177)
        defer { umask(oldMask) }
        listener = try Listener.unix(path: path, backlog: 256, loop: loop)
        guard chmod(path, 0o600) == 0 else {
            let error = SystemError.last("chmod", path)
            listener.close()
            throw error
        }
        listener.onAccept = { [unowned self] fd, _, _ in self.accepted(fd) }
        try listener.start()
    }

    var clientCount: Int { clients.count }

    func close() {
        listener.close()
        for client in clients.values { client.close() }
        clients.removeAll()
        unlink(path)
    }

    private func accepted(_ fd: FileDescriptor) {
        guard clients.count < Self.maxClients, peerIsAllowed(fd) else { fd.close(); return }
        let client = ControlClient(fd: fd, loop: loop, host: host)
        client.onClose = { [unowned self] c in self.clients.removeValue(forKey: ObjectIdentifier(c)) }
        do {
            try client.start()
            clients[ObjectIdentifier(client)] = client
        } catch {
            fd.close()
        }
    }

    /// Defence in depth beside the 0600 mode: only our own uid or root may talk to us (SO_PEERCRED).
    private func peerIsAllowed(_ fd: FileDescriptor) -> Bool {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; } (Glibc hides the type without _GNU_SOURCE).
        var cred: (pid: Int32, uid: UInt32, gid: UInt32) = (0, UInt32.max, UInt32.max)
        var length = socklen_t(MemoryLayout<(Int32, UInt32, UInt32)>.size)
        guard getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 else { return false }
        return cred.uid == 0 || cred.uid == getuid()
    }
}
