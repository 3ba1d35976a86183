import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    /// Default search path and environment basics.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Handles `exec`: validates, resolves the user, creates stdio, spawns, and answers `started` (after a
    /// successful execve) or `start_failed`.
    func exec(_ request: ExecRequest, conn: FramedConnection) {
        let id = request.session
        func fail(_ stage: SpawnStage, _ errno: Int32, _ message: String) {
            Log.debug("session \(id): start_failed \(stage): \(message)")
            conn.send(.startFailed(StartFailed(session: id, errno: errno, stage: stage, message: message)))
        }
        guard sessions[id] == nil else {
            return sendError(conn, .sessionExists, "session \(id) exists", session: id)
        }
        guard !shuttingDown else { return fail(.validate, 0, "vm-init is shutting down") }
        guard snapshot == nil else { return fail(.validate, 0, "guest is frozen for a snapshot") }
        // A half-built container root is no place to run anything; the host reboots such a guest.
        guard container != .failed else { return fail(.validate, 0, "the container root could not be set up") }
        guard sessions.count < maxSessions else {
            return sendError(conn, .resourceExhausted, "too many sessions (\(maxSessions))", session: id)
        }
        guard let program = request.argv.first, !program.isEmpty else { return fail(.validate, EINVAL, "argv is empty") }
        if let tty = request.tty, tty.rows == 0 || tty.cols == 0 {
            return fail(.validate, EINVAL, "terminal size must be non-zero")
        }

        var options = SpawnOptions(arguments: request.argv, environment: [])
        // Identity.
        var home: String?
        if let user = request.user {
            switch UserDatabase.load().resolve(user) {
            case .success(let resolved):
                options.uid = resolved.uid
                options.gid = resolved.gid
                options.groups = resolved.groups
                home = resolved.home
            case .failure(let error):
                return fail(.user, 0, error.message)
            }
        }
        if let uid = request.uid { options.uid = uid }
        if let gid = request.gid { options.gid = gid }
        if let groups = request.groups { options.groups = groups }
        if options.groups == nil, options.uid != nil { options.groups = [options.gid ?? 0] }
        // (uid_t)-1 means "leave unchanged" to setresuid/setresgid: the process would keep running as root.
        if options.uid == UInt32.max || options.gid == UInt32.max || options.groups?.contains(UInt32.max) == true {
            return fail(.validate, EINVAL, "uid/gid 4294967295 is not a valid id")
        }
        if let env = request.env {
            options.environment = env
        } else {
            options.environment = ["PATH=\(Self.defaultPath)", "HOME=\(home ?? "/")"]
            if request.tty != nil { options.environment.append("TERM=xterm-256color") }
        }
        options.searchPath = options.environment.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
            ?? Self.defaultPath
        // A passwd home that does not exist (nobody's /nonexistent) is not an error: fall back to /.
        options.workingDirectory = request.cwd ?? home.flatMap { Files.isDirectory($0) ? $0 : nil } ?? "/"
        options.umask = request.umask
        for limit in request.rlimits ?? [] {
            guard let number = ChildProcess.resourceLimitNumber(limit.resource) else {
                return fail(.validate, EINVAL, "unknown rlimit \"\(limit.resource.prefix(32))\"")
            }
            options.resourceLimits.append(ResourceLimitValue(resource: number, soft: limit.soft, hard: limit.hard))
        }
        if let caps = request.capabilities {
            var numbers: [Int32] = []
            for name in caps {
                guard let n = ChildProcess.capabilityNumber(name) else {
                    return fail(.validate, EINVAL, "unknown capability \"\(name.prefix(40))\"")
                }
                numbers.append(n)
            }
            options.capabilities = numbers
        }
        options.noNewPrivileges = request.noNewPrivs ?? false
        options.newSession = true
        options.oomScoreAdjust = request.oomScoreAdj ?? 0  // never PID 1's -1000 unless asked

        // Stdio.
        var parentEnds: [FileDescriptor] = []
        var childEnds: [FileDescriptor] = []
        var outputs: [OutputStream: FileDescriptor] = [:]
        var stdinWrite: FileDescriptor?
        func cleanup() {
            for fd in parentEnds + childEnds { fd.close() }
        }
        do {
            if let size = request.tty {
                let pty = try PseudoTerminal.open(rows: size.rows, cols: size.cols, nonBlockingMaster: true)
                parentEnds.append(pty.master)
                childEnds.append(pty.slave)
                outputs[.stdout] = pty.master
                options.controllingTerminal = pty.slave
                options.standardInput = pty.slave
                options.standardOutput = pty.slave
                options.standardError = pty.slave
            } else {
                let out = try Pipe()
                parentEnds.append(out.readEnd); childEnds.append(out.writeEnd)
                let err = try Pipe()
                parentEnds.append(err.readEnd); childEnds.append(err.writeEnd)
                try out.readEnd.setNonBlocking()
                try err.readEnd.setNonBlocking()
                // A pipe as large as the largest spliced frame lets one splice move a whole frame's worth (best
                // effort: the default is 64 KiB).
                _ = try? out.readEnd.setPipeCapacity(Session.maxSplice)
                outputs[.stdout] = out.readEnd
                outputs[.stderr] = err.readEnd
                options.standardOutput = out.writeEnd
                options.standardError = err.writeEnd
                if request.stdin == true {
                    let input = try Pipe()
                    parentEnds.append(input.writeEnd); childEnds.append(input.readEnd)
                    try input.writeEnd.setNonBlocking()
                    // As for stdout: one write can then hand the process a whole 1 MiB stdin frame (fewer wake-ups
                    // per byte).
                    _ = try? input.writeEnd.setPipeCapacity(Session.maxSplice)
                    stdinWrite = input.writeEnd
                    options.standardInput = input.readEnd
                } else {
                    let null = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
                    childEnds.append(null)
                    options.standardInput = null
                }
            }
        } catch {
            cleanup()
            return fail(request.tty != nil ? .pty : .pipes, error.errno, "\(error)")
        }

        let oomBaseline = oomKillCount()
        let pid: Int32
        do {
            pid = try spawnInCgroup(options, session: id)
        } catch {
            cleanup()
            let message = switch error.code {
            case "exec": "\(program.prefix(200)): \(error.reason)"
            case "cwd": "cannot change to \((options.workingDirectory ?? "").prefix(200)): \(error.reason)"
            default: "\(error.code) failed: \(error.reason)"
            }
            return fail(SpawnStage(rawValue: error.code), error.errno, message)
        }
        for fd in childEnds { fd.close() }
        execStarted = true

        // Registered before the loop runs again, so the reaper always finds it.
        let session = Session(id: id, argv0: program, tty: request.tty != nil, pid: pid,
                              stdinEnabled: request.tty != nil || request.stdin == true,
                              ourWindow: ourWindow, peerWindow: conn.peerWindow, connectionID: conn.id)
        session.outputs = outputs
        session.stdinFD = stdinWrite
        session.oomBaseline = oomBaseline
        sessions[id] = session
        sessionByPID[pid] = id
        for (stream, fd) in outputs {
            do {
                try loop.register(fd, interest: .read) { [unowned(unsafe) self] events in
                    self.outputEvent(session, stream, events)
                }
            } catch {
                Log.error("session \(id): register output: \(error)")
            }
        }
        if let stdinWrite {
            do {
                try loop.register(stdinWrite, interest: []) { [unowned(unsafe) self] _ in self.writeStdin(session) }
            } catch {
                Log.error("session \(id): register stdin: \(error)")
            }
        }
        if let ms = request.timeoutMs {
            session.timeoutTimer = loop.addTimer(after: .milliseconds(Int64(clamping: ms))) { [unowned(unsafe) self] in
                session.timeoutTimer = nil
                if session.isRunning {
                    Log.info("session \(session.id): timeout after \(ms) ms, SIGKILL")
                    try? self.signal(session, SIGKILL)
                }
            }
        }
        Log.debug("session \(id): started pid \(pid) \(program.prefix(100))")
        conn.send(.started(Started(session: id, pid: pid)))
    }

    /// Spawns with the child starting in the session's cgroup leaf (spawn stage `cgroup`) when there is one. A
    /// child that cannot is retried once without a cgroup: a missing leaf must never stop a workload.
    func spawnInCgroup(_ options: SpawnOptions, session id: SessionID) throws(SystemError) -> Int32 {
        var options = options
        guard let leaf = cgroups.prepare(for: id) else { return try spawnProcess(options) }
        defer { leaf.close() }
        options.cgroup = leaf
        do {
            return try spawnProcess(options)
        } catch where error.childSetupStep == .cgroup {
            Log.info("session \(id): cannot join its cgroup (\(error)); running it without one")
            cgroups.abandon(id)
            options.cgroup = nil
            return try spawnProcess(options)
        } catch {
            cgroups.abandon(id)
            throw error
        }
    }

    // MARK: - stdin

    func stdinData(_ id: SessionID, _ payload: [UInt8], conn: FramedConnection) {
        guard let session = sessions[id] else {
            return sendError(conn, .unknownSession, "no session \(id)", session: id)
        }
        guard session.stdinEnabled else {
            return sendError(conn, .invalidState, "session \(id) was started without stdin", session: id)
        }
        guard !session.stdinCloseRequested else {
            return sendError(conn, .invalidState, "stdin of session \(id) is closed", session: id)
        }
        do {
            try session.receiveWindow.receive(payload.count, session: id)
        } catch {
            return conn.send(.error(error.errorMessage))
        }
        if session.stdinDone || (session.tty && session.outputs[.stdout] == nil) {
            // The process no longer reads stdin: account the bytes as consumed so the host is never stuck.
            grantStdin(session, consumed: payload.count)
            return
        }
        session.stdin.append(payload)  // the frame's array, kept as it is
        writeStdin(session)
    }

    func stdinClose(_ id: SessionID, conn: FramedConnection) {
        guard let session = sessions[id] else {
            return sendError(conn, .unknownSession, "no session \(id)", session: id)
        }
        session.stdinCloseRequested = true
        writeStdin(session)
    }

    /// The descriptor stdin bytes go to.
    func stdinTarget(_ session: Session) -> FileDescriptor? {
        session.tty ? session.outputs[.stdout] : session.stdinFD
    }

    /// Writes buffered stdin without blocking; closes it after the buffer when the host sent `stdin_close`.
    func writeStdin(_ session: Session) {
        guard !session.stdinDone else { return }
        if let fd = stdinTarget(session) {
            while let (_, bytes) = session.stdin.front {
                let written: Int
                do throws(SystemError) {
                    let result = bytes.withUnsafeBytes { raw in Result { () throws(SystemError) in try fd.write(raw) } }
                    written = try result.get()
                } catch {
                    // EPIPE: the process closed its stdin. Drop what is left.
                    Log.debug("session \(session.id): stdin: \(error)")
                    finishStdin(session)
                    return
                }
                if written == 0 { break }
                session.stdin.consume(written)
                grantStdin(session, consumed: written)
            }
        } else if session.stdinPending > 0 {
            finishStdin(session)
            return
        }
        if session.stdinPending == 0 && session.stdinCloseRequested {
            finishStdin(session)
            return
        }
        updateInterest(session)
    }

    /// Stops stdin for good: closes the pipe (EOF for the process) or sends ^D on a terminal.
    func finishStdin(_ session: Session) {
        let dropped = session.stdinPending
        session.stdin.removeAll()
        if dropped > 0 { grantStdin(session, consumed: dropped) }
        session.stdinDone = true
        if let fd = session.stdinFD {
            loop.unregister(fd)
            fd.close()
            session.stdinFD = nil
        } else if session.tty, session.stdinCloseRequested, let master = session.outputs[.stdout] {
            var eot: UInt8 = 4
            _ = try? withUnsafeBytes(of: &eot) { (raw) throws(SystemError) in try master.write(raw) }
        }
        updateInterest(session)
    }

    func grantStdin(_ session: Session, consumed: Int) {
        guard let grant = session.receiveWindow.consume(consumed), let conn = attachedConnection(session) else { return }
        conn.send(.window(WindowUpdate(session: session.id, bytes: grant)))
    }
}

