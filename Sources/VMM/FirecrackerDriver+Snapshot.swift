import FirecrackerAPI
import LinuxSystem

/// Firecracker snapshots (NOTES.md "Snapshot API"): `PATCH /vm` Paused, `PUT /snapshot/create` Full; a restore
/// is a fresh process that gets only the logger (and metrics, when asked) and then `PUT /snapshot/load`, with `vsock_override` (the new
/// VM's own socket: the saved path belongs to the original) and `network_overrides` (the clone's TAP).
extension FirecrackerDriver {
    var vmmVersion: String { firecrackerVersion }

    /// 1.16.x: a pause/resume with no snapshot in between blocks every later host→guest vsock connection.
    static func barePauseRefusal(version: String) -> VMMError? {
        guard version.hasPrefix("1.16.") else { return nil }
        return VMMError(.requestFailed, "pause/resume is refused on Firecracker \(version): a bare pause/resume blocks every "
                        + "new host→guest vsock connection afterwards (firecracker#6100, fixed after 1.16.1)")
    }

    /// 1.16.0: vsock can stay dead after a restore when a TX descriptor was in flight.
    static func restoreRefusal(version: String) -> VMMError? {
        guard version == "1.16.0" else { return nil }
        return VMMError(.invalidConfiguration, "restore is refused on Firecracker 1.16.0: vsock can stay dead after a restore "
                        + "(firecracker#5958, fixed in 1.16.1); use 1.16.1 or later")
    }

    func createSnapshot(_ files: VMMSnapshotFiles, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let api else { return completion(VMMError(.requestFailed, "Firecracker is not running")) }
        let body = FirecrackerAPI.SnapshotCreate(snapshotPath: layout.guestPath(inJail(files.state)),
                                                 memFilePath: layout.guestPath(inJail(files.memory)))
        patchVM(true, on: loop) { [weak self] error in
            if let error { return completion(error) }
            // A 1 GiB memory file is written before the answer: allow for slow disks.
            api.send("PUT", "/snapshot/create", body, on: loop, timeout: .seconds(120)) { [weak self] result in
                guard let self else { return }
                if case .failure(let error) = result { return completion(VMMError(.requestFailed, "PUT /snapshot/create: \(error)")) }
                do throws(VMMError) {
                    try self.takeOutOfJail(files)
                    try VMMSnapshotInfo(vmm: VMMKind.firecracker.rawValue, version: self.firecrackerVersion,
                                        vcpus: self.config.vcpus, memoryMiB: self.config.memoryMiB)
                        .write(files, names: ["vmstate", "memory"])
                } catch { return completion(error) }
                completion(nil)
            }
        }
    }

    func resumeAfterSnapshot(on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        patchVM(false, on: loop, completion: completion)
    }

    func restore(from files: VMMSnapshotFiles, deadline: Clock.Instant) throws(VMMError) {
        _ = try VMMSnapshotInfo.check(files, against: config)
        removeStaleSockets()
        try prepareJail()
        try placeInJail(files)
        let api = try launch(deadline: deadline)
        do {
            if let refusal = Self.restoreRefusal(version: firecrackerVersion) { throw refusal }
            try api.put("/logger", FirecrackerAPI.Logger(logPath: layout.guestPath(layout.logFile)))
            if config.firecrackerMetrics {
                // Like the logger, metrics are per process and not in the snapshot; allowed before the load.
                try api.put("/metrics", FirecrackerAPI.Metrics(metricsPath: layout.guestPath(layout.metricsFile)))
            }
            // A writable root drive is the clone's own copy: patched in before the guest runs again.
            let repoint = layout.rootfs
            try api.put("/snapshot/load", FirecrackerAPI.SnapshotLoad(
                snapshotPath: layout.guestPath(inJail(files.state)), memoryPath: layout.guestPath(inJail(files.memory)),
                resumeVM: repoint == nil,
                networkOverrides: config.tap.map { [.init(ifaceId: "eth0", hostDevName: $0)] },
                vsockPath: layout.guestPath(layout.vsockOnHost)))
            if let rootfs = repoint {
                try api.patch("/drives/rootfs", FirecrackerAPI.DrivePath(driveId: "rootfs", pathOnHost: layout.guestPath(rootfs)))
                try api.patch("/vm", FirecrackerAPI.VMState.resumed)
            }
        } catch let error as VMMError {
            process?.waitOrKill(timeout: .zero)
            throw error
        } catch {
            // A failed load ends Firecracker itself; its reason is in the answer and the log.
            process?.waitOrKill(timeout: .milliseconds(200))
            throw VMMError(.bootFailed, "restore: \(error)", cause: error as? FirecrackerAPIError)
        }
    }

    /// Jailed: the snapshot files are written inside the jail (Firecracker sees only its chroot).
    private func inJail(_ path: String) -> String {
        guard let root = layout.jailRoot else { return path }
        return root + "/" + String(path.split(separator: "/").last ?? "")
    }

    private func takeOutOfJail(_ files: VMMSnapshotFiles) throws(VMMError) {
        guard layout.jailRoot != nil else { return }
        for path in [files.state, files.memory] {
            do { try Files.rename(inJail(path), to: path) } catch {
                do { try Files.copy(inJail(path), to: path) } catch {
                    throw VMMError(.requestFailed, "cannot move \(inJail(path)) to \(path): \(error)", cause: error)
                }
            }
        }
    }

    private func placeInJail(_ files: VMMSnapshotFiles) throws(VMMError) {
        guard layout.jailRoot != nil else { return }
        for path in [files.state, files.memory] {
            do { try Files.hardLink(path, to: inJail(path)) } catch {
                do { try Files.copy(path, to: inJail(path)) } catch {
                    throw VMMError(.bootFailed, "cannot place \(path) into the jail: \(error)", cause: error)
                }
            }
        }
    }
}
