/// `container` (host → guest): make a workload's root file system the root of every later process. Sent at
/// most once per guest boot, after `hello` (and `network`) and before any `exec`; answered by
/// `container_ready` or a session-less `error` (PROTOCOL.md §4.23).
public struct ContainerRequest: Sendable, Equatable {
    /// The root file system, mounted read-only (with a tmpfs-backed overlay on top when `writable`).
    public var root: ContainerRoot
    /// Mounted inside the new root, in order (OCI `mounts`).
    public var mounts: [ContainerMount]?
    /// Written inside the new root after the mounts (parents created 0755).
    public var files: [ContainerFile]?
    public var hostname: String?
    /// Checked last, in the new root, so a workload that cannot start fails at create time (as under runc).
    public var check: ContainerCheck?
    /// Limits on all of the workload's processes together (OCI `linux.resources`), applied first.
    public var resources: ContainerResources?

    public init(root: ContainerRoot, mounts: [ContainerMount]? = nil, files: [ContainerFile]? = nil,
                hostname: String? = nil, check: ContainerCheck? = nil, resources: ContainerResources? = nil) {
        self.root = root; self.mounts = mounts; self.files = files; self.hostname = hostname; self.check = check
        self.resources = resources
    }
}

/// The cgroup limits of a `container` message: written to the cgroup that holds every session (PROTOCOL.md §4.23),
/// as runc writes a container's. Absent: no limit beyond the VM's own size.
public struct ContainerResources: Sendable, Equatable {
    /// `memory.max` in bytes (OCI `linux.resources.memory.limit`), at least 1.
    public var memoryMax: UInt64?
    /// `pids.max` (OCI `linux.resources.pids.limit`), at least 1.
    public var pidsMax: UInt64?

    public init(memoryMax: UInt64? = nil, pidsMax: UInt64? = nil) { self.memoryMax = memoryMax; self.pidsMax = pidsMax }
}

/// The root file system of a `container` message.
public struct ContainerRoot: Sendable, Equatable {
    /// A block device (`/dev/vda`) or, with type `bind`, a directory.
    public var source: String
    /// A file system type (`ext4`, `erofs`, …) or `bind`.
    public var type: String
    /// Mount options (`ro` is implied; others as in ``ContainerMount/options``).
    public var options: [String]?
    /// Whether processes may write to the root: writes then land in a tmpfs overlay (guest RAM).
    public var writable: Bool

    public init(source: String, type: String, options: [String]? = nil, writable: Bool) {
        self.source = source; self.type = type; self.options = options; self.writable = writable
    }
}

/// One mount inside the new root (an OCI `mounts` entry).
public struct ContainerMount: Sendable, Equatable {
    /// An absolute path inside the new root; missing directories are created.
    public var destination: String
    /// `proc`, `sysfs`, `tmpfs`, `devpts`, `mqueue`, `cgroup`, `cgroup2`, `bind`, … (`/dev` as `tmpfs` becomes devtmpfs).
    public var type: String
    public var source: String?
    /// Flag words (`ro`, `nosuid`, `bind`, `rprivate`, …) become mount flags; the rest is the data string.
    public var options: [String]?

    public init(destination: String, type: String, source: String? = nil, options: [String]? = nil) {
        self.destination = destination; self.type = type; self.source = source; self.options = options
    }
}

/// One file written inside the new root (host files such as resolv.conf, copied in).
public struct ContainerFile: Sendable, Equatable {
    /// An absolute path inside the new root.
    public var path: String
    /// Permission bits (0…0o7777); absent: 0o644.
    public var mode: UInt32?
    /// The content, base64 (RFC 4648, with padding).
    public var data: String

    public init(path: String, mode: UInt32? = nil, data: String) { self.path = path; self.mode = mode; self.data = data }

    /// A file whose content is `bytes` (encoded to base64 here).
    public init(path: String, mode: UInt32? = nil, bytes: [UInt8]) {
        self.init(path: path, mode: mode, data: Base64.encode(bytes))
    }

    /// The decoded content; nil when `data` is not valid base64.
    public var decodedData: [UInt8]? { Base64.decode(data) }
}

/// What `container` checks in the new root before answering `container_ready`.
public struct ContainerCheck: Sendable, Equatable {
    /// The workload's argv[0]: searched in `path` when it has no `/`.
    public var argv0: String
    /// A `PATH` value; absent: the guest's default search path.
    public var path: String?
    /// The workload's working directory, which must exist.
    public var cwd: String?

    public init(argv0: String, path: String? = nil, cwd: String? = nil) { self.argv0 = argv0; self.path = path; self.cwd = cwd }
}

/// `container_ready` (guest → host): the new root is in place and the check passed.
public struct ContainerReady: Sendable, Equatable {
    /// The new root as the guest's later processes see it (`/`).
    public var root: String?
    public init(root: String? = nil) { self.root = root }
}

extension Message {
    /// A field whose value is outside the range the protocol allows (the JSON types alone cannot say it),
    /// described for an `invalid_message` error; nil when every field is in range.
    var rangeProblem: String? {
        switch self {
        case .exec(let request):
            if let adj = request.oomScoreAdj, !(-1000...1000).contains(adj) {
                return "\"oom_score_adj\" \(adj) is outside -1000…1000"
            }
        case .container(let request):
            if let file = request.files?.first(where: { ($0.mode ?? 0) > 0o7777 }) {
                return "\"files\" mode \(file.mode ?? 0) of \"\(file.path.prefix(64))\" is over 0o7777"
            }
            if request.resources?.memoryMax == 0 { return "\"resources\".\"memory_max\" is 0 (absent means no limit)" }
            if request.resources?.pidsMax == 0 { return "\"resources\".\"pids_max\" is 0 (absent means no limit)" }
        default: return snapshotRangeProblem
        }
        return nil
    }
}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension ContainerRequest: Codable {}
extension ContainerResources: Codable {
    enum CodingKeys: String, CodingKey { case memoryMax = "memory_max", pidsMax = "pids_max" }
}
extension ContainerRoot: Codable {}
extension ContainerMount: Codable {}
extension ContainerFile: Codable {}
extension ContainerCheck: Codable {}
extension ContainerReady: Codable {}
#endif
