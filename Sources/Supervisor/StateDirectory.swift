import Glibc
import LinuxSystem
import VMM

/// The per-VM state directory, `<state-root>/<id>/`, and what lives in it:
///
///     control.sock     exec/kill/stop clients (mode 0600)
///     api.sock         Firecracker's API socket
///     vsock.sock       Firecracker's hybrid-vsock Unix socket (guest CID ↔ host)
///     qmp.sock         QEMU's QMP socket (QEMU backend)
///     channel.sock     QEMU's virtio-serial channel (QEMU backend)
///     vmm.log          the VMM's log (Firecracker `PUT /logger`, QEMU's stderr)
///     serial.log       the guest console
///     supervisor.pid   the supervisor's pid, locked (flock) while it runs
///     vmm.pid          the VMM's pid, so a later start can kill a survivor
///     state.json       the current state, rewritten atomically on every change
///     events.jsonl     one JSON object per line: booted, started, exited, stopped, error
///
/// The VMM's own files (sockets, logs, pid) are named by ``VMMPaths``; this type adds the supervisor's.
public struct StateDirectory: Sendable {
    public let path: String
    /// The VMM's files, handed to the driver.
    public let vmm: VMMPaths

    public init(root: String, id: String) {
        path = root.hasSuffix("/") ? root + id : root + "/" + id
        vmm = VMMPaths(directory: path)
    }

    public var controlSocket: String { path + "/control.sock" }
    public var apiSocket: String { vmm.apiSocket }
    public var vsockSocket: String { vmm.vsockSocket }
    public var qmpSocket: String { vmm.qmpSocket }
    public var channelSocket: String { vmm.channelSocket }
    public var pidFile: String { path + "/supervisor.pid" }
    public var vmmPidFile: String { vmm.vmmPidFile }
    public var stateFile: String { path + "/state.json" }
    public var eventsFile: String { path + "/events.jsonl" }

    /// Unix socket paths are limited to 107 bytes; check the longest one up front.
    public func validatePathLengths() throws(SupervisorError) {
        for socket in [controlSocket, apiSocket, vsockSocket + "_4294967295", channelSocket] where socket.utf8.count > 107 {
            throw SupervisorError(.badArguments,
                                  "socket path \(socket) is longer than 107 bytes: use a shorter --state-dir or --id")
        }
    }

    /// Creates the directory and takes `supervisor.pid`'s lock, writing our pid into it. Returns the locked
    /// descriptor: the lock lasts while it is open. Fails when another supervisor holds it.
    func acquire(stateRoot: String, id: String) throws(SupervisorError) -> FileDescriptor {
        do {
            try Files.makeDirectories(stateRoot, mode: 0o755)
            try Files.makeDirectories(path, mode: 0o700)
        } catch {
            throw SupervisorError(.badArguments, "cannot create the state directory \(path): \(error)", cause: error)
        }
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(pidFile, flags: O_RDWR | O_CREAT, mode: 0o644) } catch {
            throw SupervisorError(.badArguments, "\(error)", cause: error)
        }
        let locked: Bool
        do { locked = try fd.tryLockExclusive() } catch {
            fd.close()
            throw SupervisorError(.badArguments, "cannot lock \(pidFile): \(error)", cause: error)
        }
        guard locked else {
            let owner = (try? Files.readAll(pidFile)).map(Self.firstWord) ?? "?"
            fd.close()
            throw SupervisorError(.badArguments, "VM \(id) is already supervised (pid \(owner.prefix(12)))")
        }
        // The lock, not the pid, is what excludes a second supervisor: a pid file left unwritten only makes the
        // "already supervised" message less helpful, so its write errors are not fatal.
        try? fd.truncate(to: 0)
        try? fd.writeAll(Array("\(getpid())\n".utf8), atOffset: 0)
        return fd
    }

    /// A pid file's contents without the newline.
    static func firstWord(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.map(String.init) ?? ""
    }
}
