import Glibc
import LinuxSystem
import VsockProtocol

/// Why a `container` message failed: the code and message of the `error` frame the host gets.
struct ContainerError: Error {
    var code: ErrorCode
    var message: String

    static func invalid(_ message: String) -> ContainerError { ContainerError(code: .invalidMessage, message: message) }
    /// A step that failed on a system call: the message names the step (a mount names its destination).
    static func step(_ step: String, _ error: SystemError) -> ContainerError {
        ContainerError(code: .internal, message: "\(step): \(error.reason)")
    }
}

/// Builds a workload's root and makes it the root of vm-init and so of every later child (PROTOCOL.md §4.23).
///
/// The root is mounted read-only under a private tmpfs (`staging`) and always covered by an overlay whose upper
/// and work directories live on that tmpfs: mount points and `files` can then be created even in an image that
/// lacks them, and a root that is not `writable` is remounted read-only at the end, as runc does with
/// `root.readonly`. The switch is switch_root's (an initramfs cannot be pivoted away): vm-init's /proc, /sys and
/// /dev move into the new root unless the request mounts something there, the new root is moved onto `/`, and
/// chroot(".") makes it this process's root. The request's own mounts are made after the switch, so their
/// destinations (symlinks included) resolve inside the container and can never reach the initramfs.
struct ContainerRootBuilder {
    /// The private tmpfs holding the overlay's directories (under vm-init's own /run tmpfs).
    static let staging = "/run/fc-container"
    /// vm-init's API file systems, kept for the workload when the request does not mount them itself.
    static let keptMounts = ["/proc", "/sys", "/dev"]

    let request: ContainerRequest
    /// `files` with their decoded contents.
    let files: [(file: ContainerFile, bytes: [UInt8])]
    let mounts: [(mount: ContainerMount, options: MountOptions)]
    let rootOptions: MountOptions
    let defaultPath: String

    /// Validates the whole request; nothing has changed on the machine when this throws (`invalid_message`).
    init(_ request: ContainerRequest, defaultPath: String) throws(ContainerError) {
        self.request = request
        self.defaultPath = defaultPath
        guard request.root.source.hasPrefix("/") else { throw .invalid("root.source must be an absolute path") }
        guard !request.root.type.isEmpty else { throw .invalid("root.type is empty") }
        rootOptions = MountOptions(request.root.options ?? [])
        var mounts: [(mount: ContainerMount, options: MountOptions)] = []
        for mount in request.mounts ?? [] {
            try Self.checkPath(mount.destination, "mount destination")
            guard !mount.type.isEmpty || MountOptions(mount.options ?? []).bind != nil else {
                throw .invalid("mount \(mount.destination.prefix(100)): type is empty")
            }
            mounts.append((mount: mount, options: MountOptions(mount.options ?? [])))
        }
        self.mounts = mounts
        var files: [(file: ContainerFile, bytes: [UInt8])] = []
        for file in request.files ?? [] {
            try Self.checkPath(file.path, "file path")
            guard let bytes = file.decodedData else {
                throw .invalid("file \(file.path.prefix(100)): data is not base64")
            }
            files.append((file: file, bytes: bytes))
        }
        self.files = files
        if let hostname = request.hostname, hostname.isEmpty || hostname.utf8.count > 64 {
            throw .invalid("hostname must be 1–64 bytes")
        }
        if let check = request.check, check.argv0.isEmpty { throw .invalid("check.argv0 is empty") }
    }

    /// An absolute path other than `/`, without `.` or `..` components.
    private static func checkPath(_ path: String, _ what: String) throws(ContainerError) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard path.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }),
              !path.utf8.contains(0) else {
            throw .invalid("\(what) \"\(path.prefix(100))\" must be an absolute path below / without . or ..")
        }
    }

    /// Performs every step in order; the first failure is thrown and nothing after it is attempted.
    func apply() throws(ContainerError) {
        try prepareRoot()
        try switchRoot()
        for (mount, options) in mounts { try apply(mount, options) }
        for (file, bytes) in files { try writeFile(file, bytes) }
        if let hostname = request.hostname {
            do { try SystemControl.setHostname(hostname) } catch { throw .step("hostname", error) }
        }
        if !request.root.writable {
            do { try SystemControl.changeMount("/", flags: rootOptions.flags.union([.remount, .bind, .readOnly])) } catch {
                throw .step("remount / read-only", error)
            }
        }
        if let check = request.check { try ContainerCheckRunner(check: check, defaultPath: defaultPath).run() }
    }

    // MARK: - Before the switch

    private func prepareRoot() throws(ContainerError) {
        let staging = Self.staging
        let lower = staging + "/lower", upper = staging + "/upper", work = staging + "/work", root = staging + "/root"
        do {
            try Files.makeDirectories(staging, mode: 0o700)
            try SystemControl.mount("fc-container", on: staging, type: "tmpfs", flags: [.noSuid, .noDev], data: "mode=0700")
            for dir in [lower, upper, work, root] { try Files.makeDirectory(dir, mode: 0o755) }
        } catch { throw .step("staging tmpfs \(staging)", error) }

        let source = request.root.source
        do throws(SystemError) {
            if request.root.type == "bind" || rootOptions.bind != nil {
                guard Files.isDirectory(source) else { throw SystemError("bind", errno: ENOTDIR, source) }
                try SystemControl.mount(source, on: lower, type: "none", flags: [.bind])
                try SystemControl.changeMount(lower, flags: rootOptions.flags.union([.remount, .bind, .readOnly]))
            } else {
                try SystemControl.mount(source, on: lower, type: request.root.type,
                                        flags: rootOptions.flags.union(.readOnly), data: rootOptions.data)
            }
        } catch { throw .step("mount root \(source) (\(request.root.type))", error) }
        do {
            // The root's flags (nosuid, …) belong on the mount processes see; `ro` comes last (PROTOCOL.md §4.23 step 8).
            try SystemControl.mount("overlay", on: root, type: "overlay", flags: rootOptions.flags.subtracting(.readOnly),
                                    data: "lowerdir=\(lower),upperdir=\(upper),workdir=\(work)")
        } catch { throw .step("overlay on the root", error) }

        let requested = Set(mounts.map { Self.normalized($0.mount.destination) })
        for kept in Self.keptMounts where !requested.contains(kept) && Self.isMountPoint(kept) {
            do {
                try Files.makeDirectory(root + kept, mode: 0o755)
                try SystemControl.mount(kept, on: root + kept, type: "none", flags: [.move])
            } catch { throw .step("move \(kept) into the new root", error) }
        }
    }

    /// switch_root: the new root replaces `/` for this process and every later child.
    private func switchRoot() throws(ContainerError) {
        do {
            try SystemControl.changeDirectory(Self.staging + "/root")
            try SystemControl.mount(".", on: "/", type: "none", flags: [.move])
            try SystemControl.changeRoot(".")
            try SystemControl.changeDirectory("/")
        } catch { throw .step("switch root", error) }
    }

    /// Whether `path` is a mount point of this mount namespace (from /proc/self/mountinfo, field 5).
    static func isMountPoint(_ path: String) -> Bool {
        guard let info = try? Files.readText("/proc/self/mountinfo", limit: 1 << 20) else { return false }
        return info.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", maxSplits: 5)
            return fields.count > 4 && fields[4] == path
        }
    }

    private static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }

    // MARK: - After the switch

    /// One OCI mount, runc-style: flag words become flags, the rest the data string; a bind mount is made
    /// first and then remounted with its flags (the kernel ignores them on the bind itself).
    private func apply(_ mount: ContainerMount, _ options: MountOptions) throws(ContainerError) {
        let destination = Self.normalized(mount.destination)
        var type = mount.type, source = mount.source ?? mount.type, data = options.data
        // OCI configs mount a tmpfs on /dev and expect the runtime to create the device nodes; in a VM the
        // kernel's devtmpfs already has every device the guest has (and ptys work through the devpts below).
        if destination == "/dev", type == "tmpfs" { type = "devtmpfs"; source = "devtmpfs"; data = nil }
        // The guest kernel runs cgroup v2 only; runc mounts cgroup2 for `cgroup` on such hosts too.
        if type == "cgroup" { type = "cgroup2"; data = nil }
        let step = "mount \(destination) (\(mount.type))"
        do {
            if let recursive = options.bind {
                let isDirectory = Files.isDirectory(source)
                if !Files.exists(destination) {
                    if isDirectory { try Files.makeDirectories(destination) } else {
                        try Files.makeDirectories(Self.parent(of: destination))
                        try Files.writeAtomically(destination, [UInt8](), mode: 0o644)
                    }
                }
                try SystemControl.mount(source, on: destination, type: "none",
                                        flags: recursive ? [.bind, .recursive] : [.bind])
                if !options.flags.isEmpty {
                    try SystemControl.changeMount(destination, flags: options.flags.union([.remount, .bind]))
                }
            } else {
                try Files.makeDirectories(destination)
                try SystemControl.mount(source, on: destination, type: type, flags: options.flags, data: data)
            }
            if !options.propagation.isEmpty {
                try SystemControl.changeMount(destination, flags: options.propagation)
            }
        } catch { throw .step(step, error) }
        if type == "devtmpfs" { Self.addDevLinks() }
    }

    /// The links runc creates in a container's /dev that devtmpfs lacks (udev makes them on a normal system).
    private static func addDevLinks() {
        let links = [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"),
                     ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")]
        for (path, target) in links where !Files.exists(path) {
            do { try Files.makeSymlink(path, to: target) } catch { Log.debug("container: \(error)") }
        }
    }

    private func writeFile(_ file: ContainerFile, _ bytes: [UInt8]) throws(ContainerError) {
        let path = Self.normalized(file.path)
        let mode = mode_t(file.mode ?? 0o644)
        do {
            try Files.makeDirectories(Self.parent(of: path))
            try Files.writeAtomically(path, bytes, mode: mode, temporarySuffix: ".fc-container")
            try Files.changeMode(path, mode)  // exactly `mode`, whatever the umask
        } catch { throw .step("file \(path)", error) }
    }

    private static func parent(of path: String) -> String {
        let parts = path.split(separator: "/")
        return "/" + parts.dropLast().joined(separator: "/")
    }
}

/// OCI mount options split as runc does: flag words to mount flags, propagation words to a later propagation
/// change, `bind`/`rbind` to a bind mount, and everything else (`mode=755`, `size=65536k`, …) to the data string.
struct MountOptions {
    var flags: SystemControl.MountFlags = []
    var propagation: SystemControl.MountFlags = []
    /// nil: not a bind mount; false: `bind`; true: `rbind`.
    var bind: Bool?
    var data: String?

    init(_ words: [String]) {
        let set: [String: SystemControl.MountFlags] = [
            "ro": .readOnly, "nosuid": .noSuid, "nodev": .noDev, "noexec": .noExec, "sync": .synchronous,
            "dirsync": .dirSync, "mand": .mandatoryLocking, "noatime": .noAtime, "nodiratime": .noDirAtime,
            "relatime": .relatime, "strictatime": .strictAtime, "lazytime": .lazyTime,
        ]
        let clear: [String: SystemControl.MountFlags] = [
            "rw": .readOnly, "suid": .noSuid, "dev": .noDev, "exec": .noExec, "async": .synchronous,
            "nomand": .mandatoryLocking, "atime": .noAtime, "diratime": .noDirAtime, "norelatime": .relatime,
            "nostrictatime": .strictAtime, "nolazytime": .lazyTime,
        ]
        let propagation: [String: SystemControl.MountFlags] = [
            "private": .privatePropagation, "rprivate": [.privatePropagation, .recursive],
            "slave": .slavePropagation, "rslave": [.slavePropagation, .recursive],
            "shared": .sharedPropagation, "rshared": [.sharedPropagation, .recursive],
            "unbindable": .unbindable, "runbindable": [.unbindable, .recursive],
        ]
        var rest: [String] = []
        for word in words {
            if let flag = set[word] { flags.insert(flag) }
            else if let flag = clear[word] { flags.remove(flag) }
            else if let flag = propagation[word] { self.propagation.formUnion(flag) }
            else if word == "bind" { bind = bind ?? false }
            else if word == "rbind" { bind = true }
            else if word != "defaults" { rest.append(word) }
        }
        data = rest.isEmpty ? nil : rest.joined(separator: ",")
    }
}

/// `container.check`: what runc's init checks before it reports the container created, with runc's texts
/// (clients match them: podman maps "not found"/"no such file" to exit 127).
struct ContainerCheckRunner {
    let check: ContainerCheck
    let defaultPath: String

    func run() throws(ContainerError) {
        let cwd = check.cwd ?? "/"
        if !Files.isDirectory(cwd) {
            let errno = Files.exists(cwd) ? ENOTDIR : ENOENT
            throw ContainerError(code: .internal, message:
                "chdir to cwd (\"\(cwd)\") set in config.json failed: \(SystemError("chdir", errno: errno).reason.lowercased())")
        }
        let argv0 = check.argv0
        if argv0.contains("/") {
            let path = argv0.hasPrefix("/") ? argv0 : Self.join(cwd, argv0)
            guard Files.exists(path) else {
                throw failure("stat \(argv0): no such file or directory")
            }
            if let errno = Files.executableError(path) {
                throw failure(errno == EACCES && Files.isDirectory(path) ? "is a directory"
                                  : SystemError("access", errno: errno).reason.lowercased())
            }
            return
        }
        let search = (check.path ?? defaultPath).split(separator: ":", omittingEmptySubsequences: false)
        for dir in search {
            let base = dir.isEmpty ? cwd : (dir.hasPrefix("/") ? String(dir) : Self.join(cwd, String(dir)))
            if Files.executableError(Self.join(base, argv0)) == nil { return }
        }
        throw failure("executable file not found in $PATH")
    }

    private func failure(_ reason: String) -> ContainerError {
        ContainerError(code: .internal, message: "exec: \"\(check.argv0)\": \(reason)")
    }

    private static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }
}
