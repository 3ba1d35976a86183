/// Every message's header fields, by hand (HeaderCoding.swift): the wire keys of Protocol/PROTOCOL.md, the same as
/// the types' `CodingKeys`. Fields are read in the order of those `CodingKeys` (which is what a header with more
/// than one bad field reports first), written in any order (the writer sorts them).

// MARK: - Message

extension Message {
    /// The message a parsed header holds. A header without a string `type` is not a message at all (nil); a
    /// `type` this version does not define is ``HeaderMessageError/unknownType(_:)``.
    static func decode(parsed tree: HeaderValue) throws(HeaderMessageError) -> Message? {
        guard case .object(let members) = tree, case .string(let type)? = tree["type"] else { return nil }
        let message: Message?
        do { message = try decode(type: type, HeaderReader(members: members)) } catch { throw .invalid(type: type, error) }
        guard let message else { throw .unknownType(type) }
        return message
    }

    /// The message of a defined `type`; nil for any other.
    private static func decode(type: String, _ r: HeaderReader) throws(HeaderDecodingError) -> Message? {
        switch type {
        case "hello": return .hello(try Hello(header: r))
        case "exec": return .exec(try ExecRequest(header: r))
        case "started": return .started(try Started(header: r))
        case "start_failed": return .startFailed(try StartFailed(header: r))
        case "stdin": return .stdin(try SessionRef(header: r))
        case "stdin_close": return .stdinClose(try SessionRef(header: r))
        case "stdout": return .stdout(try SessionRef(header: r))
        case "stderr": return .stderr(try SessionRef(header: r))
        case "window": return .window(try WindowUpdate(header: r))
        case "signal": return .signal(try SignalRequest(header: r))
        case "resize": return .resize(try ResizeRequest(header: r))
        case "exit": return .exit(try ExitReport(header: r))
        case "exit_ack": return .exitAck(try SessionRef(header: r))
        case "attach": return .attach(try SessionRef(header: r))
        case "sessions": return .sessions(try SessionList(header: r))
        case "ping": return .ping(try Ping(header: r))
        case "pong": return .pong(try Ping(header: r))
        case "set_time": return .setTime(try SetTime(header: r))
        case "shutdown": return .shutdown(try ShutdownRequest(header: r))
        case "error": return .error(try ErrorMessage(header: r))
        case "network": return .network(try NetworkConfig(header: r))
        case "network_applied": return .networkApplied(try NetworkApplied(header: r))
        case "lifecycle": return .lifecycle(try LifecycleRequest(header: r))
        case "lifecycle_done": return .lifecycleDone(try LifecycleDone(header: r))
        case "container": return .container(try ContainerRequest(header: r))
        case "container_ready": return .containerReady(try ContainerReady(header: r))
        case "freeze": return .freeze(try FreezeRequest(header: r))
        case "frozen": return .frozen(try FrozenReport(header: r))
        case "thaw": return .thaw(ThawRequest())
        case "thawed": return .thawed(ThawedReport())
        case "resume": return .resume(try ResumeRequest(header: r))
        case "resumed": return .resumed(try ResumedReport(header: r))
        case "stats": return .stats(try StatsRequest(header: r))
        case "stats_report": return .statsReport(try StatsReport(header: r))
        default: return nil
        }
    }

    /// The header: the message's fields and its `type`.
    var headerValue: HeaderValue {
        var o = HeaderWriter()
        switch self {
        case .hello(let m): m.write(header: &o)
        case .exec(let m): m.write(header: &o)
        case .started(let m): m.write(header: &o)
        case .startFailed(let m): m.write(header: &o)
        case .stdin(let m), .stdinClose(let m), .stdout(let m), .stderr(let m), .exitAck(let m), .attach(let m):
            m.write(header: &o)
        case .window(let m): m.write(header: &o)
        case .signal(let m): m.write(header: &o)
        case .resize(let m): m.write(header: &o)
        case .exit(let m): m.write(header: &o)
        case .sessions(let m): m.write(header: &o)
        case .ping(let m), .pong(let m): m.write(header: &o)
        case .setTime(let m): m.write(header: &o)
        case .shutdown(let m): m.write(header: &o)
        case .error(let m): m.write(header: &o)
        case .network(let m): m.write(header: &o)
        case .networkApplied(let m): m.write(header: &o)
        case .lifecycle(let m): m.write(header: &o)
        case .lifecycleDone(let m): m.write(header: &o)
        case .container(let m): m.write(header: &o)
        case .containerReady(let m): m.write(header: &o)
        case .freeze(let m): m.write(header: &o)
        case .frozen(let m): m.write(header: &o)
        case .thaw, .thawed: break
        case .resume(let m): m.write(header: &o)
        case .resumed(let m): m.write(header: &o)
        case .stats(let m): m.write(header: &o)
        case .statsReport(let m): m.write(header: &o)
        }
        o.put("type", type)
        return o.value
    }
}

/// Why a header with a string `type` is not a message.
enum HeaderMessageError: Error {
    /// A `type` this version does not define.
    case unknownType(String)
    /// A defined `type` whose fields did not decode.
    case invalid(type: String, HeaderDecodingError)
}

// MARK: - Wire names

extension WireName {
    init(header value: HeaderValue, at path: HeaderPath) throws(HeaderDecodingError) {
        self.init(rawValue: try String(header: value, at: path))
    }
    var headerValue: HeaderValue { .string(rawValue) }
}

extension PeerRole: HeaderField {}
extension SpawnStage: HeaderField {}
extension ShutdownMode: HeaderField {}
extension SessionState: HeaderField {}
extension ErrorCode: HeaderField {}
extension FreezeMethod: HeaderField {}
extension LifecycleAction: HeaderField {}

// MARK: - Connection and sessions

extension FrameLimits: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(maxHeaderBytes: try r.required("max_header"), maxPayloadBytes: try r.required("max_payload"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("max_header", maxHeaderBytes)
        o.put("max_payload", maxPayloadBytes)
    }
}

extension Hello: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(version: try r.required("version"), role: try r.required("role"), agent: try r.optional("agent"),
                  capabilities: try r.required("capabilities"), limits: try r.required("limits"),
                  window: try r.required("window"), wallClockNs: try r.optional("wall_clock_ns"),
                  bootTimings: try r.optional("boot_timings"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("version", version)
        o.put("role", role)
        o.put("agent", agent)
        o.put("capabilities", capabilities)
        o.put("limits", limits)
        o.put("window", window)
        o.put("wall_clock_ns", wallClockNs)
        o.put("boot_timings", bootTimings)
    }
}

extension ResourceLimit: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(resource: try r.required("resource"), soft: try r.required("soft"), hard: try r.required("hard"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("resource", resource)
        o.put("soft", soft)
        o.put("hard", hard)
    }
}

extension TerminalSize: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(rows: try r.required("rows"), cols: try r.required("cols"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("rows", rows)
        o.put("cols", cols)
    }
}

extension ExecRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        let session: SessionID = try r.required("session"), argv: [String] = try r.required("argv")
        let env: [String]? = try r.optional("env"), cwd: String? = try r.optional("cwd"), user: String? = try r.optional("user")
        let uid: UInt32? = try r.optional("uid"), gid: UInt32? = try r.optional("gid")
        let groups: [UInt32]? = try r.optional("groups"), umask: UInt32? = try r.optional("umask")
        let rlimits: [ResourceLimit]? = try r.optional("rlimits"), capabilities: [String]? = try r.optional("capabilities")
        let tty: TerminalSize? = try r.optional("tty"), stdin: Bool? = try r.optional("stdin")
        let noNewPrivs: Bool? = try r.optional("no_new_privs")
        self.init(session: session, argv: argv, env: env, cwd: cwd, user: user, uid: uid, gid: gid, groups: groups,
                  umask: umask, rlimits: rlimits, capabilities: capabilities, noNewPrivs: noNewPrivs, tty: tty,
                  stdin: stdin, timeoutMs: try r.optional("timeout_ms"), oomScoreAdj: try r.optional("oom_score_adj"),
                  stdinDescriptor: try r.optional("stdin_descriptor"),
                  stdoutDescriptor: try r.optional("stdout_descriptor"),
                  stderrDescriptor: try r.optional("stderr_descriptor"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("argv", argv)
        o.put("env", env)
        o.put("cwd", cwd)
        o.put("user", user)
        o.put("uid", uid)
        o.put("gid", gid)
        o.put("groups", groups)
        o.put("umask", umask)
        o.put("rlimits", rlimits)
        o.put("capabilities", capabilities)
        o.put("no_new_privs", noNewPrivs)
        o.put("tty", tty)
        o.put("stdin", stdin)
        o.put("timeout_ms", timeoutMs)
        o.put("oom_score_adj", oomScoreAdj)
        o.put("stdin_descriptor", stdinDescriptor)
        o.put("stdout_descriptor", stdoutDescriptor)
        o.put("stderr_descriptor", stderrDescriptor)
    }
}

extension Started: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), pid: try r.required("pid"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("pid", pid)
    }
}

extension StartFailed: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), errno: try r.required("errno"), stage: try r.required("stage"),
                  message: try r.required("message"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("errno", errno)
        o.put("stage", stage)
        o.put("message", message)
    }
}

extension SessionRef: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(session: try r.required("session")) }
    func write(header o: inout HeaderWriter) { o.put("session", session) }
}

extension WindowUpdate: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), bytes: try r.required("bytes"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("bytes", bytes)
    }
}

extension SignalRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), signal: try r.required("signal"), all: try r.optional("all"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("signal", signal)
        o.put("all", all)
    }
}

extension ResizeRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), rows: try r.required("rows"), cols: try r.required("cols"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("rows", rows)
        o.put("cols", cols)
    }
}

extension ExitStatus: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(code: try r.optional("code"), signal: try r.optional("signal"), coreDumped: try r.required("core_dumped"),
                  oomKilled: try r.required("oom_killed"), outputTruncated: try r.required("output_truncated"),
                  lost: try r.optional("lost"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("code", code)
        o.put("signal", signal)
        o.put("core_dumped", coreDumped)
        o.put("oom_killed", oomKilled)
        o.put("output_truncated", outputTruncated)
        o.put("lost", lost)
    }
}

/// Flattened on the wire: the status's fields sit beside `session`, with the shell's `status` number.
extension ExitReport: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        let session: SessionID = try r.required("session")
        self.init(session: session, status: try ExitStatus(header: r))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("status", status.shellStatus)
        status.write(header: &o)
    }
}

extension SessionInfo: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), pid: try r.optional("pid"), state: try r.required("state"),
                  argv0: try r.optional("argv0"), attached: try r.required("attached"), exit: try r.optional("exit"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("pid", pid)
        o.put("state", state)
        o.put("argv0", argv0)
        o.put("attached", attached)
        o.put("exit", exit)
    }
}

extension SessionList: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(sessions: try r.optional("sessions")) }
    func write(header o: inout HeaderWriter) { o.put("sessions", sessions) }
}

extension Ping: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(id: try r.required("id")) }
    func write(header o: inout HeaderWriter) { o.put("id", id) }
}

extension SetTime: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(unixNs: try r.required("unix_ns")) }
    func write(header o: inout HeaderWriter) { o.put("unix_ns", unixNs) }
}

extension ShutdownRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(mode: try r.optional("mode"), graceMs: try r.optional("grace_ms"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("mode", mode)
        o.put("grace_ms", graceMs)
    }
}

extension ErrorMessage: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(code: try r.required("code"), message: try r.required("message"), session: try r.optional("session"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("code", code)
        o.put("message", message)
        o.put("session", session)
    }
}

// MARK: - Network

extension NetworkInterfaceConfig: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(name: try r.optional("name"), mac: try r.optional("mac"), mtu: try r.optional("mtu"),
                  addresses: try r.optional("addresses"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("name", name)
        o.put("mac", mac)
        o.put("mtu", mtu)
        o.put("addresses", addresses)
    }
}

extension NetworkRoute: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(destination: try r.required("destination"), gateway: try r.optional("gateway"),
                  interface: try r.optional("interface"), metric: try r.optional("metric"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("destination", destination)
        o.put("gateway", gateway)
        o.put("interface", interface)
        o.put("metric", metric)
    }
}

extension DNSConfig: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(servers: try r.optional("servers"), search: try r.optional("search"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("servers", servers)
        o.put("search", search)
    }
}

extension HostsEntry: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(address: try r.required("address"), names: try r.required("names"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("address", address)
        o.put("names", names)
    }
}

extension NetworkConfig: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(interfaces: try r.optional("interfaces"), routes: try r.optional("routes"), dns: try r.optional("dns"),
                  hosts: try r.optional("hosts"), hostname: try r.optional("hostname"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("interfaces", interfaces)
        o.put("routes", routes)
        o.put("dns", dns)
        o.put("hosts", hosts)
        o.put("hostname", hostname)
    }
}

extension NetworkApplied: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(interfaces: try r.optional("interfaces")) }
    func write(header o: inout HeaderWriter) { o.put("interfaces", interfaces) }
}

// MARK: - Lifecycle (control.sock)

extension LifecycleRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(action: try r.required("action"), imagePath: try r.optional("image_path"),
                  leaveRunning: try r.optional("leave_running"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("action", action)
        o.put("image_path", imagePath)
        o.put("leave_running", leaveRunning)
    }
}

extension LifecycleDone: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(action: try r.required("action"), pid: try r.optional("pid"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("action", action)
        o.put("pid", pid)
    }
}

// MARK: - Containers

extension ContainerRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(root: try r.required("root"), mounts: try r.optional("mounts"), files: try r.optional("files"),
                  hostname: try r.optional("hostname"), check: try r.optional("check"),
                  resources: try r.optional("resources"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("root", root)
        o.put("mounts", mounts)
        o.put("files", files)
        o.put("hostname", hostname)
        o.put("check", check)
        o.put("resources", resources)
    }
}

extension ContainerResources: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(memoryMax: try r.optional("memory_max"), pidsMax: try r.optional("pids_max"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("memory_max", memoryMax)
        o.put("pids_max", pidsMax)
    }
}

extension ContainerRoot: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(source: try r.required("source"), type: try r.required("type"), options: try r.optional("options"),
                  writable: try r.required("writable"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("source", source)
        o.put("type", type)
        o.put("options", options)
        o.put("writable", writable)
    }
}

extension ContainerMount: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(destination: try r.required("destination"), type: try r.required("type"),
                  source: try r.optional("source"), options: try r.optional("options"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("destination", destination)
        o.put("type", type)
        o.put("source", source)
        o.put("options", options)
    }
}

extension ContainerFile: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(path: try r.required("path"), mode: try r.optional("mode"), data: try r.required("data"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("path", path)
        o.put("mode", mode)
        o.put("data", data)
    }
}

extension ContainerCheck: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(argv0: try r.required("argv0"), path: try r.optional("path"), cwd: try r.optional("cwd"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("argv0", argv0)
        o.put("path", path)
        o.put("cwd", cwd)
    }
}

extension ContainerReady: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(root: try r.optional("root")) }
    func write(header o: inout HeaderWriter) { o.put("root", root) }
}

// MARK: - Snapshots

extension FreezeRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(timeoutMs: try r.optional("timeout_ms")) }
    func write(header o: inout HeaderWriter) { o.put("timeout_ms", timeoutMs) }
}

extension FrozenSession: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(session: try r.required("session"), pid: try r.optional("pid"), attached: try r.required("attached"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("pid", pid)
        o.put("attached", attached)
    }
}

extension FreezeTimings: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(freeze: try r.required("freeze"), sync: try r.required("sync"), fsfreeze: try r.required("fsfreeze"),
                  flush: try r.required("flush"), total: try r.required("total"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("freeze", freeze)
        o.put("sync", sync)
        o.put("fsfreeze", fsfreeze)
        o.put("flush", flush)
        o.put("total", total)
    }
}

extension FrozenReport: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(method: try r.required("method"), sessions: try r.required("sessions"),
                  fsfreeze: try r.required("fsfreeze"), sync: try r.required("sync"),
                  timingsUs: try r.required("timings_us"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("method", method)
        o.put("sessions", sessions)
        o.put("fsfreeze", fsfreeze)
        o.put("sync", sync)
        o.put("timings_us", timingsUs)
    }
}

extension ResumeRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(unixNs: try r.required("unix_ns"), generation: try r.required("generation"),
                  entropy: try r.required("entropy"), keep: try r.optional("keep"),
                  hostname: try r.optional("hostname"), network: try r.optional("network"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("unix_ns", unixNs)
        o.put("generation", generation)
        o.put("entropy", entropy)
        o.put("keep", keep)
        o.put("hostname", hostname)
        o.put("network", network)
    }
}

extension ResumeTimings: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(clock: try r.required("clock"), rng: try r.required("rng"), identity: try r.required("identity"),
                  network: try r.required("network"), thaw: try r.required("thaw"), total: try r.required("total"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("clock", clock)
        o.put("rng", rng)
        o.put("identity", identity)
        o.put("network", network)
        o.put("thaw", thaw)
        o.put("total", total)
    }
}

extension ResumedReport: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(generation: try r.required("generation"), clockStepNs: try r.optional("clock_step_ns"),
                  rngReseeded: try r.required("rng_reseeded"), lost: try r.required("lost"),
                  timingsUs: try r.required("timings_us"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("generation", generation)
        o.put("clock_step_ns", clockStepNs)
        o.put("rng_reseeded", rngReseeded)
        o.put("lost", lost)
        o.put("timings_us", timingsUs)
    }
}

// MARK: - Stats

extension StatsRequest: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) { self.init(id: try r.required("id")) }
    func write(header o: inout HeaderWriter) { o.put("id", id) }
}

extension StatsReport: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        let id: UInt64 = try r.required("id"), memory: GuestMemoryStats? = try r.optional("memory")
        let cpu: GuestCPUStats? = try r.optional("cpu"), tasks: UInt32? = try r.optional("tasks")
        let sessions: [SessionStats]? = try r.optional("sessions")
        self.init(id: id, unixNs: try r.required("unix_ns"), uptimeNs: try r.optional("uptime_ns"), memory: memory,
                  cpu: cpu, loadMilli: try r.optional("load_milli"), tasks: tasks, oomKills: try r.optional("oom_kills"),
                  sessions: sessions)
    }
    func write(header o: inout HeaderWriter) {
        o.put("id", id)
        o.put("unix_ns", unixNs)
        o.put("uptime_ns", uptimeNs)
        o.put("memory", memory)
        o.put("cpu", cpu)
        o.put("load_milli", loadMilli)
        o.put("tasks", tasks)
        o.put("oom_kills", oomKills)
        o.put("sessions", sessions)
    }
}

extension GuestMemoryStats: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        self.init(totalBytes: try r.required("total_bytes"), availableBytes: try r.required("available_bytes"),
                  freeBytes: try r.optional("free_bytes"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("total_bytes", totalBytes)
        o.put("available_bytes", availableBytes)
        o.put("free_bytes", freeBytes)
    }
}

extension GuestCPUStats: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        let count: UInt32 = try r.required("count")
        self.init(userNs: try r.required("user_ns"), systemNs: try r.required("system_ns"), idleNs: try r.required("idle_ns"),
                  count: count)
    }
    func write(header o: inout HeaderWriter) {
        o.put("user_ns", userNs)
        o.put("system_ns", systemNs)
        o.put("idle_ns", idleNs)
        o.put("count", count)
    }
}

extension SessionStats: HeaderObject {
    init(header r: HeaderReader) throws(HeaderDecodingError) {
        let session: SessionID = try r.required("session"), pid: Int32? = try r.optional("pid")
        let pids: UInt32? = try r.optional("pids")
        self.init(session: session, pid: pid, cpuNs: try r.optional("cpu_ns"), cpuUserNs: try r.optional("cpu_user_ns"),
                  cpuSystemNs: try r.optional("cpu_system_ns"), memoryBytes: try r.optional("memory_bytes"),
                  memoryPeakBytes: try r.optional("memory_peak_bytes"), pids: pids, oomEvents: try r.optional("oom_events"),
                  oomKills: try r.optional("oom_kills"))
    }
    func write(header o: inout HeaderWriter) {
        o.put("session", session)
        o.put("pid", pid)
        o.put("cpu_ns", cpuNs)
        o.put("cpu_user_ns", cpuUserNs)
        o.put("cpu_system_ns", cpuSystemNs)
        o.put("memory_bytes", memoryBytes)
        o.put("memory_peak_bytes", memoryPeakBytes)
        o.put("pids", pids)
        o.put("oom_events", oomEvents)
        o.put("oom_kills", oomKills)
    }
}
