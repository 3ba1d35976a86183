import LinuxSystem
import VMM

/// The runtime's own configuration: what go-runc's argv cannot say (kernel, initramfs, VMM, jailer, defaults),
/// so that `fc-supervisor --root R create --bundle B ID` alone is enough to boot a VM.
///
/// The file is found in this order (the first that is set wins; an empty value counts as unset):
/// 1. the global `--config FILE` flag;
/// 2. the `FC_SUPERVISOR_CONFIG` environment variable;
/// 3. `/etc/fc-supervisor/config.json`.
/// A file named by 1 or 2 that does not exist is an error, never a fall-through to the next: a typo must not
/// silently boot the machine-wide configuration.
///
/// JSON keys are snake_case like the project's other files; unknown keys are refused (a misspelt key would
/// otherwise leave a default in place silently). Relative paths are relative to the file's directory, so a
/// generated `build/config.json` works wherever the checkout is; a VMM binary without a `/` is looked up in
/// `PATH` when it is started.
///
/// ```json
/// {"kernel": "vmlinux", "initramfs": "initramfs.cpio", "vmm": "qemu", "image_cache": "/var/lib/fc-supervisor/images",
///  "firecracker_binary": "firecracker", "qemu_binary": "qemu-system-x86_64",
///  "jailer": {"binary": "/usr/bin/jailer", "uid": 900, "gid": 900, "chroot_base": "/srv/jailer",
///             "cgroup_version": 2, "cgroups": [], "resource_limits": []},
///  "defaults": {"vcpus": 1, "memory_mib": 512, "boot_timeout_ms": 60000, "heartbeat_ms": 2000,
///               "liveness_timeout_ms": 30000}}
/// ```
public struct RuntimeConfiguration: Sendable, Equatable {
    public var kernel: String
    public var initramfs: String?
    public var vmm: VMMKind
    public var firecrackerBinary: String
    public var qemuBinary: String
    public var jailer: JailerConfig?
    public var vcpus: Int
    public var memoryMiB: Int
    public var bootTimeout: Duration
    /// Where bundle rootfs directories are cached as ext4 images (``RootfsImageCache``).
    public var imageCache: String
    /// `defaults.heartbeat_ms` (0: off) and `defaults.liveness_timeout_ms`: the supervisor's heartbeat; nil keeps
    /// the supervisor's own defaults.
    public var heartbeatInterval: Duration?
    public var livenessTimeout: Duration?

    /// The values an absent key leaves: VMConfig's binaries, a small VM, VMConfig's boot timeout, the image
    /// cache under /var/lib.
    public init(kernel: String, initramfs: String? = nil, vmm: VMMKind = .firecracker,
                firecrackerBinary: String = "firecracker", qemuBinary: String = "qemu-system-x86_64",
                jailer: JailerConfig? = nil, vcpus: Int = 1, memoryMiB: Int = 512, bootTimeout: Duration = .seconds(60),
                imageCache: String = RootfsImageCache.defaultDirectory) {
        self.kernel = kernel; self.initramfs = initramfs; self.vmm = vmm; self.firecrackerBinary = firecrackerBinary
        self.qemuBinary = qemuBinary; self.jailer = jailer; self.vcpus = vcpus; self.memoryMiB = memoryMiB
        self.bootTimeout = bootTimeout; self.imageCache = imageCache
    }

    public static let defaultPath = "/etc/fc-supervisor/config.json"
    public static let environmentVariable = "FC_SUPERVISOR_CONFIG"
    /// Configuration files are a few hundred bytes.
    static let maxBytes = 1 << 20

    /// Where a configuration path came from, for error messages.
    public enum Source: String, Sendable, Equatable {
        case flag = "--config"
        case environment = "FC_SUPERVISOR_CONFIG"
        case defaultPath = "the default path"
    }

    /// The file to read: `flag`, else the environment variable, else ``defaultPath``.
    public static func locate(flag: String?, environment: [String: String]) -> (path: String, source: Source) {
        if let flag, !flag.isEmpty { return (flag, .flag) }
        if let path = environment[environmentVariable], !path.isEmpty { return (path, .environment) }
        return (defaultPath, .defaultPath)
    }

    /// ``locate(flag:environment:)`` then ``load(path:source:)``.
    public static func load(flag: String?, environment: [String: String]) throws(OCIError) -> RuntimeConfiguration {
        let (path, source) = locate(flag: flag, environment: environment)
        return try load(path: path, source: source)
    }

    public static func load(path: String, source: Source) throws(OCIError) -> RuntimeConfiguration {
        guard let absolute = HostPath.absolute(path) else {
            throw OCIError(.configurationNotFound, "runtime configuration \(quoted(path)) cannot be resolved")
        }
        guard Files.exists(absolute) else {
            let hint = source == .defaultPath
                ? "write it, or name another file with --config FILE or \(environmentVariable)" : "from \(source.rawValue)"
            throw OCIError(.configurationNotFound, "runtime configuration \(absolute) does not exist (\(hint))")
        }
        let bytes: [UInt8]
        do { bytes = try Files.readAll(absolute, limit: maxBytes) } catch {
            throw OCIError(.configurationNotFound, "cannot read runtime configuration \(absolute): \(error.reason)", cause: error)
        }
        let directory = absolute.lastIndex(of: "/").map { String(absolute[..<$0]) } ?? "/"
        return try decode(bytes, location: absolute, directory: directory.isEmpty ? "/" : directory)
    }

    /// Parses and checks a configuration whose relative paths are relative to `directory`.
    static func decode(_ bytes: [UInt8], location: String, directory: String) throws(OCIError) -> RuntimeConfiguration {
        let what = "runtime configuration \(location)"
        let file = try JSONDiagnostics.decode(File.self, from: bytes, what: what, code: .invalidConfiguration)
        func invalid(_ problem: String) -> OCIError { OCIError(.invalidConfiguration, "\(what): \(problem)") }
        guard let kernel = file.kernel, !kernel.isEmpty else { throw invalid("kernel is required") }
        var configuration = RuntimeConfiguration(kernel: HostPath.joined(directory, kernel))
        if let name = file.vmm {
            guard let kind = VMMKind(rawValue: name) else { throw invalid("vmm \(quoted(name, limit: 40)) is not one of firecracker, qemu") }
            configuration.vmm = kind
        }
        if let vcpus = file.defaults?.vcpus {
            guard (1...VMSizing.maximumVCPUs).contains(vcpus) else { throw invalid("defaults.vcpus must be 1–\(VMSizing.maximumVCPUs)") }
            configuration.vcpus = vcpus
        }
        if let memoryMiB = file.defaults?.memoryMiB {
            guard memoryMiB >= 16 else { throw invalid("defaults.memory_mib must be at least 16") }
            configuration.memoryMiB = memoryMiB
        }
        if let timeoutMs = file.defaults?.bootTimeoutMs {
            guard timeoutMs > 0 else { throw invalid("defaults.boot_timeout_ms must be positive") }
            configuration.bootTimeout = .milliseconds(timeoutMs)
        }
        if let ms = file.defaults?.heartbeatMs {
            guard ms >= 0 else { throw invalid("defaults.heartbeat_ms must not be negative") }
            configuration.heartbeatInterval = .milliseconds(ms)
        }
        if let ms = file.defaults?.livenessTimeoutMs {
            guard ms > 0, ms >= file.defaults?.heartbeatMs ?? 2000, file.defaults?.heartbeatMs != 0 else {
                throw invalid("defaults.liveness_timeout_ms must be at least one heartbeat (heartbeat_ms, 2000 by default, not 0)")
            }
            configuration.livenessTimeout = .milliseconds(ms)
        }
        // A path with a `/` is relative to the file's directory; a bare binary name is left for PATH.
        func binary(_ p: String) -> String { p.contains("/") ? HostPath.joined(directory, p) : p }
        configuration.initramfs = file.initramfs.map { HostPath.joined(directory, $0) }
        if let cache = file.imageCache {
            guard !cache.isEmpty else { throw invalid("image_cache must not be empty") }
            configuration.imageCache = HostPath.joined(directory, cache)
        }
        if let bin = file.firecrackerBinary { configuration.firecrackerBinary = binary(bin) }
        if let bin = file.qemuBinary { configuration.qemuBinary = binary(bin) }
        if let j = file.jailer {
            guard let bin = j.binary, !bin.isEmpty, let uid = j.uid, let gid = j.gid else {
                throw invalid("jailer needs binary, uid and gid")
            }
            var jailer = JailerConfig(jailerBin: binary(bin), uid: uid, gid: gid)
            if let base = j.chrootBase { jailer.chrootBase = HostPath.joined(directory, base) }
            if let version = j.cgroupVersion {
                guard version == 1 || version == 2 else { throw invalid("jailer.cgroup_version must be 1 or 2") }
                jailer.cgroupVersion = version
            }
            jailer.cgroups = j.cgroups ?? []
            jailer.resourceLimits = j.resourceLimits ?? []
            configuration.jailer = jailer
        }
        return configuration
    }

    /// A VM configuration with everything this file says; a bundle's ``VMOptions`` go on top.
    public func vmConfig(id: String) -> VMConfig {
        var config = VMConfig(id: id)
        config.kernel = kernel
        config.initrd = initramfs
        config.vmm = vmm
        config.firecrackerBin = firecrackerBinary
        config.qemuBin = qemuBinary
        config.jailer = jailer
        if let jailer { config.network.tapOwner = jailer.uid }
        config.vcpus = vcpus
        config.memoryMiB = memoryMiB
        config.bootTimeout = bootTimeout
        return config
    }

    /// The file as written: every key optional, so that a missing one is reported by name above.
    struct File: Decodable {
        var kernel: String?
        var initramfs: String?
        var vmm: String?
        var firecrackerBinary: String?
        var qemuBinary: String?
        var jailer: Jailer?
        var defaults: Defaults?
        var imageCache: String?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case kernel, initramfs, vmm, jailer, defaults
            case firecrackerBinary = "firecracker_binary", qemuBinary = "qemu_binary", imageCache = "image_cache"
        }

        init(from decoder: any Decoder) throws {
            try JSONDiagnostics.rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kernel = try c.decodeIfPresent(String.self, forKey: .kernel)
            initramfs = try c.decodeIfPresent(String.self, forKey: .initramfs)
            vmm = try c.decodeIfPresent(String.self, forKey: .vmm)
            firecrackerBinary = try c.decodeIfPresent(String.self, forKey: .firecrackerBinary)
            qemuBinary = try c.decodeIfPresent(String.self, forKey: .qemuBinary)
            jailer = try c.decodeIfPresent(Jailer.self, forKey: .jailer)
            defaults = try c.decodeIfPresent(Defaults.self, forKey: .defaults)
            imageCache = try c.decodeIfPresent(String.self, forKey: .imageCache)
        }
    }

    struct Jailer: Decodable {
        var binary: String?
        var uid: UInt32?
        var gid: UInt32?
        var chrootBase: String?
        var cgroupVersion: Int?
        var cgroups: [String]?
        var resourceLimits: [String]?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case binary, uid, gid, cgroups
            case chrootBase = "chroot_base", cgroupVersion = "cgroup_version", resourceLimits = "resource_limits"
        }

        init(from decoder: any Decoder) throws {
            try JSONDiagnostics.rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            binary = try c.decodeIfPresent(String.self, forKey: .binary)
            uid = try c.decodeIfPresent(UInt32.self, forKey: .uid)
            gid = try c.decodeIfPresent(UInt32.self, forKey: .gid)
            chrootBase = try c.decodeIfPresent(String.self, forKey: .chrootBase)
            cgroupVersion = try c.decodeIfPresent(Int.self, forKey: .cgroupVersion)
            cgroups = try c.decodeIfPresent([String].self, forKey: .cgroups)
            resourceLimits = try c.decodeIfPresent([String].self, forKey: .resourceLimits)
        }
    }

    struct Defaults: Decodable {
        var vcpus: Int?
        var memoryMiB: Int?
        var bootTimeoutMs: Int64?
        var heartbeatMs: Int64?
        var livenessTimeoutMs: Int64?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case vcpus
            case memoryMiB = "memory_mib", bootTimeoutMs = "boot_timeout_ms", heartbeatMs = "heartbeat_ms"
            case livenessTimeoutMs = "liveness_timeout_ms"
        }

        init(from decoder: any Decoder) throws {
            try JSONDiagnostics.rejectUnknownKeys(decoder, known: Set(CodingKeys.allCases.map(\.rawValue)))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            vcpus = try c.decodeIfPresent(Int.self, forKey: .vcpus)
            memoryMiB = try c.decodeIfPresent(Int.self, forKey: .memoryMiB)
            bootTimeoutMs = try c.decodeIfPresent(Int64.self, forKey: .bootTimeoutMs)
            heartbeatMs = try c.decodeIfPresent(Int64.self, forKey: .heartbeatMs)
            livenessTimeoutMs = try c.decodeIfPresent(Int64.self, forKey: .livenessTimeoutMs)
        }
    }
}
