import Glibc
import LinuxSystem
import VsockProtocol
import VsockTransport

extension Agent {
    /// Dispatches one frame from the host that the connection's §7 state machine let through (so a `hello`
    /// here is the accepted first one, and everything else comes after it).
    func handle(_ frame: Frame, from conn: FramedConnection) {
        switch frame.message {
        case .hello(let hello):
            Log.debug("host connection \(conn.id): hello from \(hello.agent ?? "?")")
        case .exec(let request):
            exec(request, conn: conn)
        case .stdin(let ref):
            stdinData(ref.session, frame.payload, conn: conn)
        case .stdinClose(let ref):
            stdinClose(ref.session, conn: conn)
        case .window(let update):
            guard let session = sessions[update.session] else {
                return sendError(conn, .unknownSession, "no session \(update.session)", session: update.session)
            }
            do {
                try session.sendWindow.grant(update.bytes, session: update.session)
            } catch {
                return conn.send(.error(error.errorMessage))
            }
            flushPending(session)
        case .signal(let request):
            guard let session = sessions[request.session] else {
                return sendError(conn, .unknownSession, "no session \(request.session)", session: request.session)
            }
            guard (1...64).contains(request.signal) else {
                return sendError(conn, .invalidMessage, "signal \(request.signal) out of range", session: request.session)
            }
            if session.isRunning {
                do { try signal(session, request.signal) } catch {
                    Log.debug("signal session \(session.id): \(error)")
                }
            }
        case .resize(let request):
            guard let session = sessions[request.session] else {
                return sendError(conn, .unknownSession, "no session \(request.session)", session: request.session)
            }
            if session.tty, let master = session.outputs[.stdout] {
                do { try PseudoTerminal.setWindowSize(master, rows: request.rows, cols: request.cols) } catch {
                    Log.debug("resize session \(session.id): \(error)")
                }
            }
        case .exitAck(let ref):
            guard let session = sessions[ref.session] else {
                return sendError(conn, .unknownSession, "no session \(ref.session)", session: ref.session)
            }
            guard session.exitReport != nil else {
                return sendError(conn, .invalidState, "session \(ref.session) has not exited", session: ref.session)
            }
            forget(session)
        case .attach(let ref):
            guard let session = sessions[ref.session] else {
                return sendError(conn, .unknownSession, "no session \(ref.session)", session: ref.session)
            }
            // Moves the session to this connection, from another one or from detached (PROTOCOL.md §7.2).
            session.connectionID = conn.id
            session.sendWindow = SendWindow(initial: conn.peerWindow)
            session.receiveWindow = ReceiveWindow(window: ourWindow)
            session.exitSent = false
            flushPending(session)
        case .sessions:
            // PROTOCOL.md §4.15: `attached` means attached to the connection that asked, not to any connection.
            let list = sessions.values.sorted { $0.id < $1.id }.map { $0.info(attached: $0.connectionID == conn.id) }
            conn.send(.sessions(SessionList(sessions: list)))
        case .ping(let ping):
            conn.send(.pong(ping))
        case .setTime(let request):
            // A vm-init in a PID namespace of another system (the simulator, tests) shares that system's clock.
            guard GuestStats.ownsTheClock else {
                return sendError(conn, .internal, "set_time: this vm-init runs in a PID namespace of another system, whose clock is not its to set")
            }
            do { try setWallClock(request.unixNs) } catch {
                sendError(conn, .internal, "set_time: \(error)")
            }
        case .shutdown(let request):
            if let mode = request.mode, !mode.isDefined {
                return sendError(conn, .invalidMessage, "shutdown mode must be reboot or poweroff")
            }
            beginShutdown(mode: request.mode, graceMs: request.graceMs.map { UInt64($0) }, reason: "host request")
        case .network(let config):
            applyNetwork(config, conn: conn)
        case .container(let request):
            applyContainer(request, conn: conn)
        case .stats(let request):
            reportStats(request, conn: conn)
        case .error(let error):
            Log.info("host reported error \(error.code): \(error.message.prefix(200))")
        case .pong:
            break
        case .lifecycle, .lifecycleDone:
            // PROTOCOL.md §11: control.sock only; the supervisor never forwards them.
            sendError(conn, .invalidMessage, "\"\(frame.message.type)\" is served on control.sock, not by vm-init")
        case .freeze(let request):
            freeze(request, conn: conn)
        case .thaw:
            thaw(conn: conn)
        case .resume(let request):
            resume(request, conn: conn)
        case .started, .startFailed, .stdout, .stderr, .exit, .networkApplied, .containerReady, .frozen, .thawed, .resumed,
             .statsReport:
            sendError(conn, .invalidMessage, "\"\(frame.message.type)\" is sent by the guest, not the host",
                      session: frame.message.session)
        }
    }

    /// Applies a `network` message; answers `network_applied` or one session-less `error`. Only as PID 1: an
    /// agent that is not init (a development run, the fuzz target) must not reconfigure the machine it runs on.
    func applyNetwork(_ config: NetworkConfig, conn: FramedConnection) {
        guard isInit else { return sendError(conn, .invalidState, "network configuration needs vm-init as PID 1") }
        do {
            let names = try NetworkSetup(etcDirectory: self.config.etcDirectory).apply(config)
            Log.info("network applied: \(names.joined(separator: ", "))")
            conn.send(.networkApplied(NetworkApplied(interfaces: names)))
        } catch {
            Log.error("network: \(error.message)")
            sendError(conn, error.code, error.message)
        }
    }

    /// Removes a finished, acknowledged session.
    func forget(_ session: Session) {
        closeAllDescriptors(session)
        if let t = session.drainTimer { loop.cancelTimer(t) }
        if let t = session.timeoutTimer { loop.cancelTimer(t) }
        sessions[session.id] = nil
    }
}
