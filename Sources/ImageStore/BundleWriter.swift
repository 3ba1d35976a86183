import LinuxSystem
import OCIRuntime

/// `image bundle REF DIR`: a runtime-spec bundle whose process comes from the image config and whose root is the
/// image's unpacked tree in the store (an absolute `root.path`, as podman and CRI hand over theirs).
///
/// The tree is shared by every bundle of the image and never written: fc-supervisor turns it into a read-only
/// ext4 image and the guest writes to a tmpfs overlay on it. `image rm` or `gc` of the image makes its bundles
/// fail at create with "rootfs … does not exist".
public enum BundleWriter {
    /// The annotation that carries the image's `ExposedPorts` (`80/tcp,443/tcp`): a VM has no port publishing.
    public static let exposedPortsAnnotation = "org.opencontainers.image.exposedPorts"
    public static let referenceAnnotation = "org.opencontainers.image.ref.name"
    /// Not `org.fc-runtime.…`: fc-supervisor refuses annotations of its own prefix that it does not know.
    public static let manifestAnnotation = "org.fc-image.manifest"

    public static func spec(config: ImageConfig, record: ImageRecord, rootfs: String) throws(ImageError) -> OCISpec {
        let settings = config.config
        let args = (settings?.Entrypoint ?? []) + (settings?.Cmd ?? [])
        guard !args.isEmpty else {
            throw ImageError(.unsupported, "image \(record.reference) has no Entrypoint or Cmd: nothing to run")
        }
        var env = settings?.Env ?? []
        if !env.contains(where: { $0.hasPrefix("PATH=") }) {
            env.insert("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", at: 0)
        }
        let workdir = settings?.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/"
        let user = try resolveUser(settings?.User ?? "", rootfs: rootfs, reference: record.reference)
        var annotations = [referenceAnnotation: record.reference, manifestAnnotation: record.manifest.description]
        if let ports = settings?.ExposedPorts, !ports.isEmpty {
            annotations[exposedPortsAnnotation] = ports.keys.sorted().joined(separator: ",")
        }
        let mounts: [OCISpec.Mount] = [
            .init(destination: "/proc", type: "proc", source: "proc"),
            .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            .init(destination: "/dev/pts", type: "devpts", source: "devpts",
                  options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
            .init(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
        ]
        return OCISpec(
            ociVersion: "1.0.2",
            process: .init(terminal: false, user: user, args: args, env: env, cwd: workdir,
                           capabilities: .init(bounding: defaultCapabilities, effective: defaultCapabilities,
                                               permitted: defaultCapabilities),
                           rlimits: [.init(type: "RLIMIT_NOFILE", hard: 1024, soft: 1024)], noNewPrivileges: true),
            root: .init(path: rootfs, readonly: false),
            hostname: nil,
            mounts: mounts,
            annotations: annotations,
            linux: .init(namespaces: ["pid", "ipc", "uts", "mount", "network"].map { .init(type: $0) }))
    }

    /// Docker's default capability set (what `docker run` grants without `--cap-add`).
    static let defaultCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
                                      "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                                      "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

    /// The config's `User` (`uid`, `uid:gid`, `name`, `name:group`; empty is root) as numbers, names looked up in
    /// the image's own /etc/passwd and /etc/group (resolved inside the tree, never the host's).
    static func resolveUser(_ text: String, rootfs: String, reference: String) throws(ImageError) -> OCISpec.User {
        guard !text.isEmpty else { return .init(uid: 0, gid: 0) }
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func lookup(_ file: String, _ name: String) -> (UInt32, UInt32)? {
            let applier = LayerApplier(root: rootfs)
            guard let directory = try? applier.resolve(["etc"], createMissing: false, what: reference),
                  let text = try? Files.readText(directory + "/" + file, limit: 1 << 20) else { return nil }
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: ":", omittingEmptySubsequences: false)
                if fields.count >= 4, fields[0] == name, let id = UInt32(fields[2]) {
                    return (id, UInt32(fields[3]) ?? 0)
                }
            }
            return nil
        }
        let uid: UInt32
        var gid: UInt32 = 0
        if let number = UInt32(parts[0]) {
            uid = number
        } else if let (id, group) = lookup("passwd", parts[0]) {
            uid = id; gid = group
        } else {
            throw ImageError(.unsupported, "image \(reference): user \"\(parts[0])\" is not in its /etc/passwd")
        }
        if parts.count == 2 {
            if let number = UInt32(parts[1]) { gid = number }
            else if let (id, _) = lookup("group", parts[1]) { gid = id }
            else { throw ImageError(.unsupported, "image \(reference): group \"\(parts[1])\" is not in its /etc/group") }
        }
        return .init(uid: uid, gid: gid)
    }

    /// Writes `DIR/config.json` (DIR created; an existing config.json is refused) and checks it loads as
    /// fc-supervisor's `create` will load it. A bundle that fails the check is removed again.
    public static func write(_ spec: OCISpec, to directory: String) throws(ImageError) {
        let config = directory + "/config.json"
        guard !Files.exists(config) else { throw ImageError(.io, "\(config) already exists") }
        do {
            try Files.makeDirectories(directory)
            try Files.writeAtomically(config, ImageJSON.encode(spec))
        } catch {
            throw ImageError(.io, "cannot write \(config): \(error.reason)", cause: error)
        }
        do { _ = try OCIBundle.load(path: directory) } catch {
            try? Files.remove(config)
            throw ImageError(.unsupported, "the bundle made from the image is not valid: \(error.message)", cause: error)
        }
    }
}
