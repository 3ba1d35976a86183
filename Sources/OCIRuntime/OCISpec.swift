/// The part of an OCI runtime-spec `config.json` a VM can honour (runtime-spec config.md, config-linux.md).
///
/// Every field is optional in the model, as Go's zero values make them in runc: a missing field and an absent
/// one mean the same, and ``OCIBundle/load(path:)`` decides which absences are errors. Unknown fields (hooks,
/// seccomp, apparmor, maskedPaths, …) are ignored, as runc ignores fields it does not know.
public struct OCISpec: Codable, Sendable, Equatable {
    public var ociVersion: String?
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var mounts: [Mount]?
    public var annotations: [String: String]?
    public var linux: Linux?

    public init(ociVersion: String? = nil, process: Process? = nil, root: Root? = nil, hostname: String? = nil,
                mounts: [Mount]? = nil, annotations: [String: String]? = nil, linux: Linux? = nil) {
        self.ociVersion = ociVersion; self.process = process; self.root = root; self.hostname = hostname
        self.mounts = mounts; self.annotations = annotations; self.linux = linux
    }

    /// `process`: the container's first process, and the shape of every `exec --process` file.
    public struct Process: Codable, Sendable, Equatable {
        public var terminal: Bool?
        public var consoleSize: ConsoleSize?
        public var user: User?
        public var args: [String]?
        public var env: [String]?
        public var cwd: String?
        public var capabilities: Capabilities?
        public var rlimits: [Rlimit]?
        public var noNewPrivileges: Bool?
        public var oomScoreAdj: Int?

        public init(terminal: Bool? = nil, consoleSize: ConsoleSize? = nil, user: User? = nil, args: [String]? = nil,
                    env: [String]? = nil, cwd: String? = nil, capabilities: Capabilities? = nil,
                    rlimits: [Rlimit]? = nil, noNewPrivileges: Bool? = nil, oomScoreAdj: Int? = nil) {
            self.terminal = terminal; self.consoleSize = consoleSize; self.user = user; self.args = args
            self.env = env; self.cwd = cwd; self.capabilities = capabilities; self.rlimits = rlimits
            self.noNewPrivileges = noNewPrivileges; self.oomScoreAdj = oomScoreAdj
        }
    }

    /// `process.consoleSize`, in character cells.
    public struct ConsoleSize: Codable, Sendable, Equatable {
        public var height: UInt
        public var width: UInt
        public init(height: UInt, width: UInt) { self.height = height; self.width = width }
    }

    /// `process.user`.
    public struct User: Codable, Sendable, Equatable {
        public var uid: UInt32?
        public var gid: UInt32?
        public var umask: UInt32?
        public var additionalGids: [UInt32]?
        public init(uid: UInt32? = nil, gid: UInt32? = nil, umask: UInt32? = nil, additionalGids: [UInt32]? = nil) {
            self.uid = uid; self.gid = gid; self.umask = umask; self.additionalGids = additionalGids
        }
    }

    /// `process.capabilities`: capability names (`CAP_CHOWN`, …) per set.
    public struct Capabilities: Codable, Sendable, Equatable {
        public var bounding: [String]?
        public var effective: [String]?
        public var permitted: [String]?
        public var inheritable: [String]?
        public var ambient: [String]?
        public init(bounding: [String]? = nil, effective: [String]? = nil, permitted: [String]? = nil,
                    inheritable: [String]? = nil, ambient: [String]? = nil) {
            self.bounding = bounding; self.effective = effective; self.permitted = permitted
            self.inheritable = inheritable; self.ambient = ambient
        }
    }

    /// One of `process.rlimits`: `type` is `RLIMIT_NOFILE` and the like.
    public struct Rlimit: Codable, Sendable, Equatable {
        public var type: String
        public var hard: UInt64
        public var soft: UInt64
        public init(type: String, hard: UInt64, soft: UInt64) { self.type = type; self.hard = hard; self.soft = soft }
    }

    /// `root`: the container's root file system, relative to the bundle or absolute.
    public struct Root: Codable, Sendable, Equatable {
        public var path: String?
        public var readonly: Bool?
        public init(path: String? = nil, readonly: Bool? = nil) { self.path = path; self.readonly = readonly }
    }

    /// One of `mounts`.
    public struct Mount: Codable, Sendable, Equatable {
        public var destination: String?
        public var type: String?
        public var source: String?
        public var options: [String]?
        public init(destination: String? = nil, type: String? = nil, source: String? = nil, options: [String]? = nil) {
            self.destination = destination; self.type = type; self.source = source; self.options = options
        }
    }

    /// `linux`: only resources and namespaces mean anything to a VM.
    public struct Linux: Codable, Sendable, Equatable {
        public var resources: Resources?
        public var namespaces: [Namespace]?
        public init(resources: Resources? = nil, namespaces: [Namespace]? = nil) {
            self.resources = resources; self.namespaces = namespaces
        }
    }

    /// `linux.resources`: the memory limit and the CPU quota or set size the VM; the pids limit bounds the
    /// workload's processes inside it (vm-init's `container` `resources`).
    public struct Resources: Codable, Sendable, Equatable {
        public var memory: Memory?
        public var cpu: CPU?
        public var pids: Pids?
        public init(memory: Memory? = nil, cpu: CPU? = nil, pids: Pids? = nil) {
            self.memory = memory; self.cpu = cpu; self.pids = pids
        }
    }

    /// `linux.resources.pids`: `limit` processes; 0, -1 or absent is unlimited (runc writes `max`).
    public struct Pids: Codable, Sendable, Equatable {
        public var limit: Int64?
        public init(limit: Int64? = nil) { self.limit = limit }
    }

    /// `linux.resources.memory`: `limit` in bytes; -1 (or absent) is unlimited.
    public struct Memory: Codable, Sendable, Equatable {
        public var limit: Int64?
        public init(limit: Int64? = nil) { self.limit = limit }
    }

    /// `linux.resources.cpu`: `quota` µs per `period` µs (-1: unlimited), `cpus` a cpuset list such as `0-3,6`.
    public struct CPU: Codable, Sendable, Equatable {
        public var quota: Int64?
        public var period: UInt64?
        public var cpus: String?
        public init(quota: Int64? = nil, period: UInt64? = nil, cpus: String? = nil) {
            self.quota = quota; self.period = period; self.cpus = cpus
        }
    }

    /// One of `linux.namespaces`: a `path` joins an existing namespace, no path makes a new one.
    public struct Namespace: Codable, Sendable, Equatable {
        public var type: String
        public var path: String?
        public init(type: String, path: String? = nil) { self.type = type; self.path = path }
    }
}
