// Snapshot and restore (PROTOCOL.md §4.25–§4.30): the host freezes the guest before a VMM snapshot, then thaws it
// (the checkpoint failed, or the VM keeps running) or, in a restored copy, resumes it with fresh time, randomness
// and identity.

/// `freeze` (host → guest): stop every session's processes, sync and freeze writable disks, flush all queued
/// output, then answer `frozen` (or `error`: `invalid_state` when already frozen, `internal` when it could not be
/// done in time, after undoing it).
public struct FreezeRequest: Sendable, Equatable {
    /// How long the guest may take, in milliseconds (1…60000); absent: ``defaultTimeoutMs``.
    public var timeoutMs: UInt32?
    public init(timeoutMs: UInt32? = nil) { self.timeoutMs = timeoutMs }

    public static let defaultTimeoutMs: UInt32 = 2000
    public static let maxTimeoutMs: UInt32 = 60000
}

/// `frozen.method`: how the sessions' processes were stopped.
public struct FreezeMethod: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// cgroup v2 `cgroup.freeze` on each session's cgroup: every process of the session, grandchildren included,
    /// stops, and the workload cannot notice.
    public static let cgroup = FreezeMethod(rawValue: "cgroup")
    /// No cgroups: SIGSTOP to each session's process group. Weaker: a process in another group escapes, and a
    /// parent can see its child stop (SIGCHLD, waitpid with WUNTRACED).
    public static let sigstop = FreezeMethod(rawValue: "sigstop")

    public static let allDefined: [FreezeMethod] = [.cgroup, .sigstop]
}

/// One session alive at the freeze: what a restore can keep (`resume.keep`) or lose.
public struct FrozenSession: Sendable, Equatable {
    public var session: SessionID
    public var pid: Int32?
    /// Whether the session is attached to the connection that asked for the freeze.
    public var attached: Bool
    public init(session: SessionID, pid: Int32?, attached: Bool) {
        self.session = session; self.pid = pid; self.attached = attached
    }
}

/// Microseconds each step of a freeze took.
public struct FreezeTimings: Sendable, Equatable {
    public var freeze: UInt64
    public var sync: UInt64
    public var fsfreeze: UInt64
    public var flush: UInt64
    public var total: UInt64
    public init(freeze: UInt64, sync: UInt64, fsfreeze: UInt64, flush: UInt64, total: UInt64) {
        self.freeze = freeze; self.sync = sync; self.fsfreeze = fsfreeze; self.flush = flush; self.total = total
    }
}

/// `frozen` (guest → host, bulk lane): the guest is quiet. It follows every output byte that any session had
/// produced before the freeze, so a host that reads it has all of that output.
public struct FrozenReport: Sendable, Equatable {
    public var method: FreezeMethod
    /// Every session not yet exited.
    public var sessions: [FrozenSession]
    /// Mount points of the writable block-device file systems frozen with FIFREEZE.
    public var fsfreeze: [String]
    /// sync(2) ran.
    public var sync: Bool
    public var timingsUs: FreezeTimings

    public init(method: FreezeMethod, sessions: [FrozenSession], fsfreeze: [String], sync: Bool, timingsUs: FreezeTimings) {
        self.method = method; self.sessions = sessions; self.fsfreeze = fsfreeze; self.sync = sync; self.timingsUs = timingsUs
    }
}

/// `thaw` (host → guest): undo a freeze (`invalid_state` when not frozen). Answered by `thawed`.
public struct ThawRequest: Sendable, Equatable {
    public init() {}
}

/// `thawed` (guest → host): the file systems and the sessions run again.
public struct ThawedReport: Sendable, Equatable {
    public init() {}
}

/// `resume` (host → guest, only while frozen): this guest was restored from a snapshot. Step the clock, reseed
/// the RNG, take the new identity, end the sessions not kept, thaw; answered by `resumed`.
public struct ResumeRequest: Sendable, Equatable {
    /// The host's CLOCK_REALTIME, ns since the Unix epoch, taken just before sending.
    public var unixNs: Int64
    /// The new generation of this VM (the host counts its restores).
    public var generation: UInt64
    /// Fresh random bytes for the kernel RNG, base64 (RFC 4648, with padding), 16…512 bytes decoded.
    public var entropy: String
    /// Sessions that survive the restore; every other live session is killed and ends with `lost: "snapshot"`.
    /// Absent: none.
    public var keep: [SessionID]?
    /// A new hostname (a clone).
    public var hostname: String?
    /// A new network configuration (a clone), applied as a `network` message would be.
    public var network: NetworkConfig?

    public init(unixNs: Int64, generation: UInt64, entropy: String, keep: [SessionID]? = nil, hostname: String? = nil,
                network: NetworkConfig? = nil) {
        self.unixNs = unixNs; self.generation = generation; self.entropy = entropy; self.keep = keep
        self.hostname = hostname; self.network = network
    }

    /// A request carrying `bytes` as its entropy (encoded to base64 here).
    public init(unixNs: Int64, generation: UInt64, entropyBytes bytes: [UInt8], keep: [SessionID]? = nil,
                hostname: String? = nil, network: NetworkConfig? = nil) {
        self.init(unixNs: unixNs, generation: generation, entropy: Base64.encode(bytes), keep: keep,
                  hostname: hostname, network: network)
    }

    public static let entropyBytes: ClosedRange<Int> = 16...512

    /// The decoded entropy; nil when `entropy` is not valid base64.
    public var decodedEntropy: [UInt8]? { Base64.decode(entropy) }
}

/// Microseconds each step of a resume took.
public struct ResumeTimings: Sendable, Equatable {
    public var clock: UInt64
    public var rng: UInt64
    public var identity: UInt64
    public var network: UInt64
    public var thaw: UInt64
    public var total: UInt64
    public init(clock: UInt64, rng: UInt64, identity: UInt64, network: UInt64, thaw: UInt64, total: UInt64) {
        self.clock = clock; self.rng = rng; self.identity = identity; self.network = network; self.thaw = thaw
        self.total = total
    }
}

/// `resumed` (guest → host): the restored guest runs again.
public struct ResumedReport: Sendable, Equatable {
    public var generation: UInt64
    /// How far CLOCK_REALTIME was stepped (new − old, ns); absent when the clock could not be set (the reason is
    /// in the guest's console log).
    public var clockStepNs: Int64?
    /// RNDADDENTROPY + RNDRESEEDCRNG both succeeded (false: the kernel refused; the reason is in the console log).
    public var rngReseeded: Bool
    /// Sessions killed because they were not in `keep` (each also ends with an `exit` carrying `lost`).
    public var lost: [SessionID]
    public var timingsUs: ResumeTimings

    public init(generation: UInt64, clockStepNs: Int64?, rngReseeded: Bool, lost: [SessionID], timingsUs: ResumeTimings) {
        self.generation = generation; self.clockStepNs = clockStepNs; self.rngReseeded = rngReseeded; self.lost = lost
        self.timingsUs = timingsUs
    }
}

extension Message {
    /// Range checks of the snapshot messages (see ``rangeProblem``).
    var snapshotRangeProblem: String? {
        switch self {
        case .freeze(let request):
            if let ms = request.timeoutMs, !(1...FreezeRequest.maxTimeoutMs).contains(ms) {
                return "\"timeout_ms\" \(ms) is outside 1…\(FreezeRequest.maxTimeoutMs)"
            }
        case .resume(let request):
            guard let bytes = request.decodedEntropy else { return "\"entropy\" is not base64" }
            if !ResumeRequest.entropyBytes.contains(bytes.count) {
                return "\"entropy\" holds \(bytes.count) bytes; 16…512 are needed"
            }
        default: break
        }
        return nil
    }
}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension FreezeRequest: Codable {
    enum CodingKeys: String, CodingKey { case timeoutMs = "timeout_ms" }
}
extension FrozenSession: Codable {}
extension FreezeTimings: Codable {}
extension FrozenReport: Codable {
    enum CodingKeys: String, CodingKey { case method, sessions, fsfreeze, sync, timingsUs = "timings_us" }
}
extension ThawRequest: Codable {}
extension ThawedReport: Codable {}
extension ResumeRequest: Codable {
    enum CodingKeys: String, CodingKey { case unixNs = "unix_ns", generation, entropy, keep, hostname, network }
}
extension ResumeTimings: Codable {}
extension ResumedReport: Codable {
    enum CodingKeys: String, CodingKey {
        case generation, clockStepNs = "clock_step_ns", rngReseeded = "rng_reseeded", lost, timingsUs = "timings_us"
    }
}
#endif
