import LinuxSystem
import VsockProtocol

/// A bundle → vm-init's `container` request (PROTOCOL.md): the root the workload runs in, its mounts, the host
/// files copied in, the hostname, and runc's create-time check of the program and cwd.
extension OCIBundle {
    /// Where the root image appears in the guest: it is the VM's only drive (the guest boots from the runtime's
    /// initramfs), so the kernel names it vda under both VMMs.
    public static let rootDevice = "/dev/vda"
    /// The whole `container` request travels in one frame header (64 KiB); copied files get most of it, base64
    /// costs a third more, and a workload's resolv.conf, hosts, hostname and .containerenv are far smaller.
    public static let maxCopiedBytes = 32 << 10

    /// vm-init's `container` request. The image on ``rootDevice`` is mounted read-only; unless `root.readonly`,
    /// an overlay with a tmpfs upper layer gives the workload a private writable root (writes cost guest memory).
    /// Copied files keep their bytes, and get mode 0644 (0444 for a `ro` bind mount): the guest sees a file, not
    /// the host's inode. Throws, naming the mount, when a host file cannot be read or the files are too large.
    public func containerRequest(rootDevice: String = OCIBundle.rootDevice) throws(OCIError) -> ContainerRequest {
        var mounts: [ContainerMount] = []
        var files: [ContainerFile] = []
        var copied = 0
        for mount in self.mounts {
            switch mount {
            case .fileSystem(let type, let source, let destination, let options):
                mounts.append(ContainerMount(destination: destination, type: type, source: source,
                                             options: options.isEmpty ? nil : options))
            case .copiedFile(let source, let destination, let readonly):
                let bytes: [UInt8]
                do { bytes = try Files.readAll(source, limit: Self.maxCopiedBytes + 1) } catch {
                    throw OCIError(.unsupportedMount, "bind mount \(destination): cannot read \(source): \(error)")
                }
                copied += bytes.count
                guard copied <= Self.maxCopiedBytes else {
                    throw OCIError(.unsupportedMount,
                                   "bind mount \(destination): the files copied into the VM exceed \(Self.maxCopiedBytes / 1024) KiB")
                }
                files.append(ContainerFile(path: destination, mode: readonly ? 0o444 : 0o644, bytes: bytes))
            }
        }
        return ContainerRequest(
            root: ContainerRoot(source: rootDevice, type: "ext4", options: ["ro"], writable: !readonlyRoot),
            mounts: mounts.isEmpty ? nil : mounts, files: files.isEmpty ? nil : files, hostname: vmOptions.hostname,
            check: processCheck, resources: containerResources)
    }

    /// `linux.resources.pids.limit`, for the cgroup holding every process of the container in the guest (runc's
    /// "no limit" values, 0, -1 or absent, send nothing).
    ///
    /// The memory limit sizes the VM (``VMSizing/memoryMiB(limit:)``) and is not sent as `memory_max`: a Go
    /// workload held at a guest cgroup's `memory.max` spent minutes in reclaim without the cgroup's OOM killer
    /// firing (go-runc's `oom` case: 3 runs of 3 over 165 s), and still 5 to 146 s with the multi-gen LRU (5
    /// runs), whose `min_ttl_ms` guards only the VM-wide limit (3.8 to 4.0 s there, 14 runs).
    var containerResources: ContainerResources? {
        guard let pids = spec.linux?.resources?.pids?.limit, pids > 0 else { return nil }
        return ContainerResources(pidsMax: UInt64(pids))
    }

    /// runc resolves `args[0]` through the process's own PATH and enters `cwd` at create, so a missing program
    /// fails `create`, not `start` (podman maps that failure's text to exit 127).
    var processCheck: ContainerCheck? {
        guard let argv0 = process.args?.first else { return nil }
        let path = process.env?.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
        return ContainerCheck(argv0: argv0, path: path, cwd: process.cwd)
    }
}
