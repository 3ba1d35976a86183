/// The messages of every session's life and of every connection's start, coded by hand: `hello`, `exec`,
/// `started`, `start_failed`, `stdin_close`, `exit`, `exit_ack`, `ping`, `pong` and `error` (the stdio and
/// `window` headers are ``StdioHeader``'s).
///
/// Why by hand: the first use of a `Codable` conformance costs a protocol-conformance lookup per coding-key
/// and container type, and each lookup scans every conformance record of the binary (tens of thousands in the
/// static fc-supervisor). Those scans were a quarter of an `fc-supervisor exec -- true` client's CPU, and what
/// vm-init spent before its first byte. The other messages keep the general path (``HeaderEncoder``,
/// ``HeaderDecoder``). Both paths give the same bytes, the same message and the same error text: the
/// differential tests in `VsockProtocolTests` (HeaderCodecTests) hold them to it.
enum HotHeaders {
    // MARK: Encoding

    static func encode(_ message: Message) -> [UInt8]? {
        var o = Fields()
        switch message {
        case .hello(let m):
            o.put("version", int: m.version)
            o.put("role", m.role.rawValue)
            o.put("agent", m.agent)
            o.put("capabilities", strings: m.capabilities)
            var limits = Fields()
            limits.put("max_header", int: m.limits.maxHeaderBytes)
            limits.put("max_payload", int: m.limits.maxPayloadBytes)
            o.put("limits", limits.value)
            o.put("window", int: m.window)
            if let ns = m.wallClockNs { o.put("wall_clock_ns", int: ns) }
            if let timings = m.bootTimings {
                var t = Fields()
                for (key, value) in timings { t.put(key, int: value) }
                o.put("boot_timings", t.value)
            }
        case .exec(let m):
            o.put("session", int: m.session)
            o.put("argv", strings: m.argv)
            if let env = m.env { o.put("env", strings: env) }
            o.put("cwd", m.cwd)
            o.put("user", m.user)
            if let uid = m.uid { o.put("uid", int: uid) }
            if let gid = m.gid { o.put("gid", int: gid) }
            if let groups = m.groups { o.put("groups", .array(groups.map { .number(String($0)) })) }
            if let umask = m.umask { o.put("umask", int: umask) }
            if let rlimits = m.rlimits {
                o.put("rlimits", .array(rlimits.map { r in
                    var f = Fields()
                    f.put("resource", r.resource)
                    f.put("soft", int: r.soft)
                    f.put("hard", int: r.hard)
                    return f.value
                }))
            }
            if let caps = m.capabilities { o.put("capabilities", strings: caps) }
            if let v = m.noNewPrivs { o.put("no_new_privs", .bool(v)) }
            if let tty = m.tty {
                var f = Fields()
                f.put("rows", int: tty.rows)
                f.put("cols", int: tty.cols)
                o.put("tty", f.value)
            }
            if let v = m.stdin { o.put("stdin", .bool(v)) }
            if let v = m.timeoutMs { o.put("timeout_ms", int: v) }
            if let v = m.oomScoreAdj { o.put("oom_score_adj", int: v) }
            if let v = m.stdinDescriptor { o.put("stdin_descriptor", .bool(v)) }
            if let v = m.stdoutDescriptor { o.put("stdout_descriptor", .bool(v)) }
            if let v = m.stderrDescriptor { o.put("stderr_descriptor", .bool(v)) }
        case .started(let m):
            o.put("session", int: m.session)
            o.put("pid", int: m.pid)
        case .startFailed(let m):
            o.put("session", int: m.session)
            o.put("errno", int: m.errno)
            o.put("stage", m.stage.rawValue)
            o.put("message", m.message)
        case .stdinClose(let m), .exitAck(let m):
            o.put("session", int: m.session)
        case .exit(let m):
            o.put("session", int: m.session)
            o.put("status", int: m.status.shellStatus)
            if let code = m.status.code { o.put("code", int: code) }
            if let signal = m.status.signal { o.put("signal", int: signal) }
            o.put("core_dumped", .bool(m.status.coreDumped))
            o.put("oom_killed", .bool(m.status.oomKilled))
            o.put("output_truncated", .bool(m.status.outputTruncated))
            o.put("lost", m.status.lost)
        case .ping(let m), .pong(let m):
            o.put("id", int: m.id)
        case .error(let m):
            o.put("code", m.code.rawValue)
            o.put("message", m.message)
            if let session = m.session { o.put("session", int: session) }
        default:
            return nil
        }
        o.put("type", message.type)
        var out: [UInt8] = []
        out.reserveCapacity(96)
        o.value.write(into: &out)
        return out
    }

    /// An object under construction (``HeaderValue/write(into:)`` sorts the keys).
    struct Fields {
        var members: [HeaderValue.Member] = []
        var value: HeaderValue { .object(members) }

        mutating func put(_ key: String, _ value: HeaderValue) { members.append(.init(key: key, value: value)) }
        mutating func put(_ key: String, _ value: String?) { if let value { put(key, .string(value)) } }
        mutating func put(_ key: String, int value: some FixedWidthInteger) { put(key, .number(String(value))) }
        mutating func put(_ key: String, strings: [String]) { put(key, .array(strings.map { .string($0) })) }
    }

    // MARK: Decoding

    /// The message for a parsed header of one of these types; nil for other types (the general path's). Throws
    /// what the general path would throw for the same header.
    static func decode(_ tree: HeaderValue) throws -> Message? {
        guard case .object(let members) = tree, case .string(let type)? = tree["type"] else { return nil }
        let f = Reader(members: members, path: [])
        switch type {
        case "hello":
            return .hello(Hello(
                version: try f.required("version", HeaderDecoder.integer),
                role: PeerRole(rawValue: try f.required("role", HeaderDecoder.string)),
                agent: try f.optional("agent", HeaderDecoder.string),
                capabilities: try f.required("capabilities", strings),
                limits: try f.required("limits") { v, p in
                    let l = try Reader(v, p)
                    return FrameLimits(maxHeaderBytes: try l.required("max_header", HeaderDecoder.integer),
                                       maxPayloadBytes: try l.required("max_payload", HeaderDecoder.integer))
                },
                window: try f.required("window", HeaderDecoder.integer),
                wallClockNs: try f.optional("wall_clock_ns", HeaderDecoder.integer),
                bootTimings: try f.optional("boot_timings") { v, p in
                    let t = try Reader(v, p)
                    var timings: [String: UInt64] = [:]
                    for member in t.members {
                        timings[member.key] = try HeaderDecoder.integer(UInt64.self, member.value, p + [IndexKey(stringValue: member.key)])
                    }
                    return timings
                }))
        case "exec":
            return .exec(ExecRequest(
                session: try f.required("session", HeaderDecoder.integer),
                argv: try f.required("argv", strings),
                env: try f.optional("env", strings),
                cwd: try f.optional("cwd", HeaderDecoder.string),
                user: try f.optional("user", HeaderDecoder.string),
                uid: try f.optional("uid", HeaderDecoder.integer),
                gid: try f.optional("gid", HeaderDecoder.integer),
                groups: try f.optional("groups") { v, p in try elements(v, p) { try HeaderDecoder.integer(UInt32.self, $0, $1) } },
                umask: try f.optional("umask", HeaderDecoder.integer),
                rlimits: try f.optional("rlimits") { v, p in
                    try elements(v, p) { e, ep in
                        let r = try Reader(e, ep)
                        return ResourceLimit(resource: try r.required("resource", HeaderDecoder.string),
                                             soft: try r.required("soft", HeaderDecoder.integer),
                                             hard: try r.required("hard", HeaderDecoder.integer))
                    }
                },
                capabilities: try f.optional("capabilities", strings),
                noNewPrivs: try f.optional("no_new_privs", HeaderDecoder.bool),
                tty: try f.optional("tty") { v, p in
                    let t = try Reader(v, p)
                    return TerminalSize(rows: try t.required("rows", HeaderDecoder.integer),
                                        cols: try t.required("cols", HeaderDecoder.integer))
                },
                stdin: try f.optional("stdin", HeaderDecoder.bool),
                timeoutMs: try f.optional("timeout_ms", HeaderDecoder.integer),
                oomScoreAdj: try f.optional("oom_score_adj", HeaderDecoder.integer),
                stdinDescriptor: try f.optional("stdin_descriptor", HeaderDecoder.bool),
                stdoutDescriptor: try f.optional("stdout_descriptor", HeaderDecoder.bool),
                stderrDescriptor: try f.optional("stderr_descriptor", HeaderDecoder.bool)))
        case "started":
            return .started(Started(session: try f.required("session", HeaderDecoder.integer),
                                    pid: try f.required("pid", HeaderDecoder.integer)))
        case "start_failed":
            return .startFailed(StartFailed(
                session: try f.required("session", HeaderDecoder.integer),
                errno: try f.required("errno", HeaderDecoder.integer),
                stage: SpawnStage(rawValue: try f.required("stage", HeaderDecoder.string)),
                message: try f.required("message", HeaderDecoder.string)))
        case "stdin_close":
            return .stdinClose(SessionRef(session: try f.required("session", HeaderDecoder.integer)))
        case "exit_ack":
            return .exitAck(SessionRef(session: try f.required("session", HeaderDecoder.integer)))
        case "exit":
            let session: SessionID = try f.required("session", HeaderDecoder.integer)
            return .exit(ExitReport(session: session, status: ExitStatus(
                code: try f.optional("code", HeaderDecoder.integer),
                signal: try f.optional("signal", HeaderDecoder.integer),
                coreDumped: try f.required("core_dumped", HeaderDecoder.bool),
                oomKilled: try f.required("oom_killed", HeaderDecoder.bool),
                outputTruncated: try f.required("output_truncated", HeaderDecoder.bool),
                lost: try f.optional("lost", HeaderDecoder.string))))
        case "ping":
            return .ping(Ping(id: try f.required("id", HeaderDecoder.integer)))
        case "pong":
            return .pong(Ping(id: try f.required("id", HeaderDecoder.integer)))
        case "error":
            return .error(ErrorMessage(code: ErrorCode(rawValue: try f.required("code", HeaderDecoder.string)),
                                       message: try f.required("message", HeaderDecoder.string),
                                       session: try f.optional("session", HeaderDecoder.integer)))
        default:
            return nil
        }
    }

    /// An object's members, read with the general decoder's errors and coding paths.
    struct Reader {
        let members: [HeaderValue.Member]
        let path: [any CodingKey]

        init(members: [HeaderValue.Member], path: [any CodingKey]) { self.members = members; self.path = path }

        /// A nested object, or the general path's mismatch error.
        init(_ value: HeaderValue, _ path: [any CodingKey]) throws {
            guard case .object(let members) = value else {
                throw HeaderDecoder.mismatch([String: HeaderValue].self, value, path)
            }
            self.init(members: members, path: path)
        }

        func required<T>(_ key: String, _ convert: (HeaderValue, [any CodingKey]) throws -> T) throws -> T {
            guard let member = members.first(where: { $0.key == key }) else {
                throw DecodingError.keyNotFound(IndexKey(stringValue: key),
                                                .init(codingPath: path, debugDescription: "No value associated with key \(key)."))
            }
            return try convert(member.value, path + [IndexKey(stringValue: key)])
        }

        func optional<T>(_ key: String, _ convert: (HeaderValue, [any CodingKey]) throws -> T) throws -> T? {
            guard let member = members.first(where: { $0.key == key }), member.value != .null else { return nil }
            return try convert(member.value, path + [IndexKey(stringValue: key)])
        }

        func required<I: FixedWidthInteger>(_ key: String, _ convert: (I.Type, HeaderValue, [any CodingKey]) throws -> I) throws -> I {
            try required(key) { try convert(I.self, $0, $1) }
        }

        func optional<I: FixedWidthInteger>(_ key: String, _ convert: (I.Type, HeaderValue, [any CodingKey]) throws -> I) throws -> I? {
            try optional(key) { try convert(I.self, $0, $1) }
        }
    }

    static func elements<T>(_ value: HeaderValue, _ path: [any CodingKey],
                            _ convert: (HeaderValue, [any CodingKey]) throws -> T) throws -> [T] {
        guard case .array(let items) = value else { throw HeaderDecoder.mismatch([HeaderValue].self, value, path) }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for (n, item) in items.enumerated() { out.append(try convert(item, path + [IndexKey(index: n)])) }
        return out
    }

    static func strings(_ value: HeaderValue, _ path: [any CodingKey]) throws -> [String] {
        try elements(value, path, HeaderDecoder.string)
    }
}
