import LinuxSystem

/// One of `config.json`'s mounts, as the VM will honour it.
///
/// The guest has its own kernel, so kernel file systems are simply mounted again inside it. A host *file* bind
/// mount (resolv.conf, hosts, hostname, podman's .containerenv) is copied into the guest before the workload
/// starts. A host *directory* cannot be shared without a shared file system device (virtio-fs), which neither
/// VMM is given here, so it is refused by name rather than silently left out. One directory is the exception:
/// podman (and CRI runtimes) bind a host tmpfs on `/dev/shm` even for a private IPC namespace; shared memory
/// never crosses a VM's boundary, so a private IPC namespace's `/dev/shm` is the guest's own tmpfs. When the IPC
/// namespace is the host's or another container's, that sharing cannot be honoured and the mount is refused.
public enum GuestMount: Sendable, Equatable {
    /// A file system vm-init mounts in the guest: `type` is one of ``guestTypes``.
    case fileSystem(type: String, source: String, destination: String, options: [String])
    /// A regular host file (symlinks resolved) copied to `destination`; read-only when the options say `ro`.
    case copiedFile(source: String, destination: String, readonly: Bool)

    /// The file system types a guest kernel provides by itself.
    public static let guestTypes: Set<String> = ["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"]

    public var destination: String {
        switch self {
        case .fileSystem(_, _, let destination, _), .copiedFile(_, let destination, _): destination
        }
    }

    /// Where a container's POSIX shared memory lives (``classify(_:bundle:privateIPC:)``).
    public static let sharedMemory = "/dev/shm"

    /// Classifies `mount`; throws for one the VM cannot honour, naming its destination. `privateIPC`: the spec
    /// asks for a new IPC namespace (`linux.namespaces` has `ipc` without a path).
    static func classify(_ mount: OCISpec.Mount, bundle: String, privateIPC: Bool) throws(OCIError) -> GuestMount {
        guard let destination = mount.destination, destination.hasPrefix("/") else {
            throw OCIError(.unsupportedMount, "mount destination \(quoted(mount.destination ?? "")) is not an absolute path")
        }
        let options = mount.options ?? []
        let type = mount.type ?? ""
        // runc treats `bind`/`rbind` in the options as a bind mount whatever the type says (often "none").
        if type == "bind" || options.contains("bind") || options.contains("rbind") {
            return try copiedFile(mount.source ?? "", destination: destination, options: options, bundle: bundle,
                                  privateIPC: privateIPC)
        }
        guard guestTypes.contains(type) else {
            let what = type.isEmpty ? "has no type" : "has type \(quoted(type, limit: 40))"
            throw OCIError(.unsupportedMount,
                           "mount \(destination) \(what), which the VM cannot mount (supported: bind mounts of files, \(guestTypes.sorted().joined(separator: ", ")))")
        }
        return .fileSystem(type: type, source: mount.source ?? type, destination: destination, options: options)
    }

    /// A bind mount's source: relative to the bundle (and inside it) or absolute, symlinks followed
    /// (/etc/resolv.conf is often a link); it must be a regular file.
    private static func copiedFile(_ source: String, destination: String, options: [String],
                                   bundle: String, privateIPC: Bool) throws(OCIError) -> GuestMount {
        guard !source.isEmpty else { throw OCIError(.unsupportedMount, "bind mount \(destination) has no source") }
        guard let resolved = HostPath.resolved(HostPath.joined(bundle, source)) else {
            throw OCIError(.unsupportedMount, "bind mount \(destination): source \(quoted(source)): too many levels of symbolic links")
        }
        // A relative source names something in the bundle; one that lands outside it (`../../etc/shadow`, or
        // through a symlink) is refused, as a relative root.path that escapes is. Absolute sources are host files
        // by intent (/etc/resolv.conf).
        if !source.hasPrefix("/"), !HostPath.isWithin(resolved, HostPath.resolved(bundle) ?? bundle) {
            throw OCIError(.unsupportedMount, "bind mount \(destination): source \(quoted(source)) escapes the bundle")
        }
        switch Files.type(of: resolved) {
        case .regular?:
            return .copiedFile(source: resolved, destination: destination, readonly: options.contains("ro"))
        case .directory? where destination == sharedMemory && privateIPC:
            // The host directory only backs the host's view; the guest's processes share the guest's tmpfs.
            return .fileSystem(type: "tmpfs", source: "shm", destination: destination,
                               options: options.filter { $0 != "bind" && $0 != "rbind" } + ["mode=1777"])
        case .directory? where destination == sharedMemory:
            throw OCIError(.unsupportedMount,
                           "bind mount \(destination): the IPC namespace is the host's or another container's, which a VM cannot share (use a private IPC namespace)")
        case .directory?:
            throw OCIError(.unsupportedMount,
                           "bind mount \(destination): host directory \(resolved) cannot be shared with the VM (only single files are copied in)")
        case nil:
            throw OCIError(.unsupportedMount, "bind mount \(destination): source \(resolved) does not exist")
        default:
            throw OCIError(.unsupportedMount, "bind mount \(destination): source \(resolved) is not a regular file")
        }
    }
}
