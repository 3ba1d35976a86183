/// Where a VMM's sockets, logs and pid file live: one directory per VM (the supervisor's state directory).
public struct VMMPaths: Sendable, Equatable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    /// Firecracker's API socket.
    public var apiSocket: String { directory + "/api.sock" }
    /// Firecracker's hybrid-vsock Unix socket (guest CID ↔ host).
    public var vsockSocket: String { directory + "/vsock.sock" }
    /// QEMU's QMP socket.
    public var qmpSocket: String { directory + "/qmp.sock" }
    /// A second QMP socket for operators and tests (`stop`/`cont`, `query-status`); the supervisor holds qmp.sock.
    public var monitorSocket: String { directory + "/monitor.sock" }
    /// QEMU's virtio-serial channel to vm-init.
    public var channelSocket: String { directory + "/channel.sock" }
    /// The VMM's log (Firecracker `PUT /logger`, QEMU's stderr).
    public var vmmLog: String { directory + "/vmm.log" }
    /// Firecracker's metrics, JSON lines (`PUT /metrics`, only with `--metrics-listen`).
    public var vmmMetrics: String { directory + "/vmm.metrics" }
    /// The guest console.
    public var serialLog: String { directory + "/serial.log" }
    /// The VMM's pid, so a later start can kill a survivor.
    public var vmmPidFile: String { directory + "/vmm.pid" }
    /// The QEMU command line, for debugging.
    public var qemuCommandLine: String { directory + "/qemu.cmdline" }
}
