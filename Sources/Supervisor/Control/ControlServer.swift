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
        // Created 0600 (umask 0177), so the socket never exists with a wider mode; chmod again in case the file
        // system ignores the mask.
        listener = try SystemControl.withFileCreationMask(0o177) { () throws(SystemError) in
            try Listener.unix(path: path, backlog: 256, loop: loop)
        }
        do {
            try Files.changeMode(path, 0o600)
        } catch {
            listener.close()
            throw error
        }
        listener.onAccept = { [unowned self] fd, _, _ in self.accepted(fd) }
        try listener.start()
    }

    /// How long closing may spend writing what is still queued for clients, all of them together.
    static let finalFlush: Duration = .milliseconds(500)

    /// Stops accepting and closes every client. What is queued for a client is written first (within
    /// ``finalFlush`` in all, so a client that stopped reading cannot hold the exit): an answer given in the loop
    /// turn that also ended the loop, such as a checkpoint's `lifecycle_done` just before the VMM it killed was
    /// reaped, still reaches its client.
    func close() {
        listener.close()
        let deadline = Clock.deadline(after: Self.finalFlush)
        for client in clients.values { client.closeAfterFlushing(until: deadline) }
        clients.removeAll()
        try? Files.remove(path)  // already gone is fine: nothing else to clean
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
        guard let peer = try? UnixSocket.peerCredentials(fd) else { return false }
        return peer.uid == 0 || peer.uid == SystemControl.userID
    }
}
