#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FirecrackerAPI
import LinuxSystem
import VsockTransport

/// Boots one VM with Firecracker (optionally under the jailer) and reaches vm-init through hybrid vsock.
///
/// Boot sequence (every request checked against the official v1.16 API): logger, machine-config, boot-source,
/// drives, network interface, vsock, entropy, InstanceStart (plus metrics when asked). Stale sockets are removed first: Firecracker exits
/// 1 when its API socket exists, fails `PUT /vsock` when the vsock path exists, and never unlinks either.
final class FirecrackerDriver: VMMDriver {
    let config: VMConfig
    let paths: VMMPaths
    private(set) var process: VMMProcess?
    /// How long `SendCtrlAltDel` may go unanswered; it runs on the event loop, so this bounds nothing but
    /// the log line: the loop is never held.
    static let shutdownRequestTimeout: Duration = .seconds(2)
    var api: FirecrackerAPIClient?
    /// Host paths of the sockets (inside the jail when jailed).
    let layout: FirecrackerLayout
    var environment: [String]
    /// `GET /version`'s answer, read at boot or restore.
    var firecrackerVersion = ""

    init(config: VMConfig, paths: VMMPaths, environment: [String]) {
        self.config = config
        self.paths = paths
        self.environment = environment
        self.layout = FirecrackerLayout(config: config, paths: paths)
    }

    func boot(deadline: Clock.Instant) throws(VMMError) {
        removeStaleSockets()
        try prepareJail()
        // Firecracker writes the guest console and (until the logger is set) its log to stdout.
        let api = try launch(deadline: deadline)
        do {
            try configure(api)
            try api.put("/actions", FirecrackerAPI.Action.instanceStart)
        } catch {
            throw VMMError(.bootFailed, error.message, cause: error)
        }
    }

    /// Starts Firecracker (or the jailer) and waits for its API; reads its version.
    func launch(deadline: Clock.Instant) throws(VMMError) -> FirecrackerAPIClient {
        let (path, arguments) = layout.commandLine()
        let process = try VMMProcess.launch(path, arguments: arguments, environment: environment,
                                            outputPath: paths.serialLog, pidFile: paths.vmmPidFile)
        self.process = process
        let api = FirecrackerAPIClient(socketPath: layout.apiSocketOnHost)
        self.api = api
        do {
            try api.waitUntilReady(deadline: deadline, vmmAlive: { process.isRunning })
            let body = try api.get("/version")
            firecrackerVersion = (try? JSONDecoder().decode(FirecrackerAPI.Version.self, from: Data(body)))?.firecrackerVersion ?? ""
        } catch {
            process.waitOrKill(timeout: .zero)
            throw VMMError(.bootFailed, error.message, cause: error)
        }
        return api
    }

    private func configure(_ api: FirecrackerAPIClient) throws(FirecrackerAPIError) {
        try api.put("/logger", FirecrackerAPI.Logger(logPath: layout.guestPath(layout.logFile)))
        if config.firecrackerMetrics {
            try api.put("/metrics", FirecrackerAPI.Metrics(metricsPath: layout.guestPath(layout.metricsFile)))
        }
        try api.put("/machine-config", FirecrackerAPI.MachineConfig(vcpuCount: config.vcpus, memSizeMib: config.memoryMiB))
        try api.put("/boot-source", FirecrackerAPI.BootSource(
            kernelImagePath: layout.guestPath(layout.kernel), bootArgs: config.effectiveBootArgs,
            initrdPath: layout.initrd.map(layout.guestPath)))
        if let rootfs = layout.rootfs {
            try api.put("/drives/rootfs", FirecrackerAPI.Drive(driveId: "rootfs", pathOnHost: layout.guestPath(rootfs),
                                                               isRootDevice: true, isReadOnly: false))
        }
        for (index, drive) in layout.extraDrives.enumerated() {
            let id = "data\(index)"
            try api.put("/drives/\(id)", FirecrackerAPI.Drive(driveId: id, pathOnHost: layout.guestPath(drive),
                                                              isRootDevice: false, isReadOnly: true))
        }
        if let tap = config.tap {
            try api.put("/network-interfaces/eth0",
                        FirecrackerAPI.NetworkInterface(ifaceId: "eth0", hostDevName: tap, guestMac: config.effectiveGuestMAC))
        }
        try api.put("/vsock", FirecrackerAPI.Vsock(guestCid: config.guestCID, udsPath: layout.guestPath(layout.vsockOnHost)))
        try api.put("/entropy", FirecrackerAPI.Entropy())
    }

    func connectGuest(deadline: Clock.Instant) throws(VMMError) -> (FileDescriptor, [UInt8]) {
        let dialer = HybridVsockDialer(udsPath: layout.vsockOnHost, port: config.vsockPort)
        do {
            let connection = try dialer.connect(deadline: deadline, shouldContinue: { [weak self] in self?.process?.isRunning ?? false })
            return (connection.fd, connection.leftover)
        } catch {
            // The VMM went away under the handshake: a boot failure; otherwise vm-init never answered in time.
            throw VMMError(error.code == .peerGone ? .bootFailed : .guestUnreachable, error.message, cause: error)
        }
    }

    /// `SendCtrlAltDel` on the open API connection, answered on the loop (vm-init, which disables CAD, gets
    /// SIGINT from the kernel and powers off).
    func requestGuestShutdown(on loop: EventLoop, log: @escaping (String) -> Void) {
        guard let api, process?.isRunning == true else { return }
        api.send("PUT", "/actions", FirecrackerAPI.Action.sendCtrlAltDel, on: loop, timeout: Self.shutdownRequestTimeout) { result in
            if case .failure(let error) = result { log("Ctrl-Alt-Del through the VMM: \(error)") }
        }
    }

    func setPaused(_ paused: Bool, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        if let refusal = Self.barePauseRefusal(version: firecrackerVersion) { return completion(refusal) }
        patchVM(paused, on: loop, completion: completion)
    }

    /// `PATCH /vm`: a bare pause/resume for ``setPaused(_:on:completion:)``, and the pause around a snapshot.
    func patchVM(_ paused: Bool, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let api, process?.isRunning == true else { return completion(VMMError(.requestFailed, "Firecracker is not running")) }
        let body: FirecrackerAPI.VMState = paused ? .paused : .resumed
        api.send("PATCH", "/vm", body, on: loop, timeout: Self.shutdownRequestTimeout) { result in
            switch result {
            case .success: completion(nil)
            case .failure(let error): completion(VMMError(.requestFailed, "PATCH /vm \(body.state): \(error)"))
            }
        }
    }

    var metricsFile: String? { config.firecrackerMetrics ? layout.metricsFile : nil }

    /// `FlushMetrics` on the open API connection, answered on the loop: the new line is in the file by then
    /// (Firecracker answers after the action has completed).
    func flushMetrics(on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let api, metricsFile != nil, process?.isRunning == true else {
            return completion(VMMError(.requestFailed, "Firecracker is not running or writes no metrics"))
        }
        api.send("PUT", "/actions", FirecrackerAPI.Action.flushMetrics, on: loop, timeout: Self.shutdownRequestTimeout) { result in
            switch result {
            case .success: completion(nil)
            case .failure(let error): completion(VMMError(.requestFailed, "FlushMetrics: \(error)"))
            }
        }
    }

    func cleanup() {
        removeStaleSockets()
        if let jail = layout.jailRoot {
            // The jail holds copies of the kernel and drives and the jailer's pid file (created O_EXCL: a leftover
            // one makes the next jailer fail). Remove the whole per-id jail directory.
            try? Files.removeTree(String(jail.dropLast("/root".count)))
        }
    }

    func removeStaleSockets() {
        // The metrics file too: Firecracker writes from offset 0 without truncating, over a previous run's lines.
        for path in [layout.apiSocketOnHost, layout.vsockOnHost, layout.metricsFile] { try? Files.remove(path) }
        // Guest-initiated listeners `<uds>_<port>` (none are made by us, but a previous owner may have).
        let directory = String(layout.vsockOnHost.prefix(upTo: layout.vsockOnHost.lastIndex(of: "/") ?? layout.vsockOnHost.startIndex))
        let prefix = String(layout.vsockOnHost.split(separator: "/").last ?? "") + "_"
        for name in Directory.names(directory) where name.hasPrefix(prefix) { try? Files.remove(directory + "/" + name) }
    }

    /// Under the jailer: the chroot must contain the kernel, initrd and drives, owned by the jail's uid/gid.
    func prepareJail() throws(VMMError) {
        guard let jailer = config.jailer, let root = layout.jailRoot else { return }
        do {
            try Files.removeTree(String(root.dropLast("/root".count)))
            try Files.makeDirectories(root, mode: 0o755)
        } catch {
            throw VMMError(.bootFailed, "cannot create the jail \(root): \(error)", cause: error)
        }
        var files = [(config.kernel, layout.kernel)]
        if let initrd = config.initrd, let inJail = layout.initrd { files.append((initrd, inJail)) }
        if let rootfs = config.rootfs, let inJail = layout.rootfs { files.append((rootfs, inJail)) }
        for (source, target) in zip(config.extraDrives, layout.extraDrives) { files.append((source, target)) }
        for (source, target) in files {
            // A hard link is instant and shares the blocks; across file systems fall back to a copy.
            do { try Files.hardLink(source, to: target) } catch {
                do { try Files.copy(source, to: target) } catch {
                    throw VMMError(.bootFailed, "cannot place \(source) into the jail at \(target): \(error)", cause: error)
                }
            }
            do { try Files.changeOwner(target, uid: jailer.uid, gid: jailer.gid) } catch {
                throw VMMError(.bootFailed, "cannot chown \(target) to \(jailer.uid):\(jailer.gid): \(error)", cause: error)
            }
        }
    }

}

/// Where Firecracker's files live, on the host and as Firecracker sees them (inside the jail when jailed).
struct FirecrackerLayout {
    let config: VMConfig
    /// `<chroot-base>/<exec-name>/<id>/root` when jailed.
    let jailRoot: String?
    let apiSocketOnHost: String
    let vsockOnHost: String
    let logFile: String
    let metricsFile: String
    let kernel: String
    let initrd: String?
    let rootfs: String?
    let extraDrives: [String]

    init(config: VMConfig, paths: VMMPaths) {
        self.config = config
        if let jailer = config.jailer {
            let execName = String(config.firecrackerBin.split(separator: "/").last ?? "firecracker")
            let root = "\(jailer.chrootBase)/\(execName)/\(config.instanceID)/root"
            jailRoot = root
            apiSocketOnHost = root + "/api.sock"
            vsockOnHost = root + "/v.sock"
            logFile = root + "/vmm.log"
            metricsFile = root + "/vmm.metrics"
            kernel = root + "/vmlinux"
            initrd = config.initrd.map { _ in root + "/initrd" }
            rootfs = config.rootfs.map { _ in root + "/rootfs.ext4" }
            extraDrives = config.extraDrives.indices.map { root + "/data\($0).img" }
        } else {
            jailRoot = nil
            apiSocketOnHost = paths.apiSocket
            vsockOnHost = paths.vsockSocket
            logFile = paths.vmmLog
            metricsFile = paths.vmmMetrics
            kernel = config.kernel
            initrd = config.initrd
            rootfs = config.rootfs
            extraDrives = config.extraDrives
        }
    }

    /// The path Firecracker must be given for a host path (jail-relative when jailed).
    func guestPath(_ hostPath: String) -> String {
        guard let jailRoot, hostPath.hasPrefix(jailRoot) else { return hostPath }
        return String(hostPath.dropFirst(jailRoot.count))
    }

    /// The program and its arguments: Firecracker directly, or the jailer wrapping it.
    func commandLine() -> (String, [String]) {
        guard let jailer = config.jailer else {
            let direct = ["--api-sock", apiSocketOnHost, "--id", config.instanceID]
            // With a VM namespace (and no jailer to enter it), Firecracker runs inside it via nsenter (same pid).
            if let netns = config.network.netnsPath {
                return ("/usr/bin/nsenter", ["--net=\(netns)", "--", config.firecrackerBin] + direct)
            }
            return (config.firecrackerBin, direct)
        }
        var args = ["--id", config.instanceID, "--exec-file", config.firecrackerBin, "--uid", "\(jailer.uid)",
                    "--gid", "\(jailer.gid)", "--chroot-base-dir", jailer.chrootBase,
                    "--cgroup-version", "\(jailer.cgroupVersion)"]
        if let netns = jailer.netns { args += ["--netns", netns] }
        for cgroup in jailer.cgroups { args += ["--cgroup", cgroup] }
        for limit in jailer.resourceLimits { args += ["--resource-limit", limit] }
        // The jailer passes --id itself: passing it again after `--` is a DuplicateArgument (exit 153).
        args += ["--", "--api-sock", guestPath(apiSocketOnHost)]
        return (jailer.jailerBin, args)
    }
}
