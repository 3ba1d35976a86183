import LinuxSystem
import VsockProtocol
import VsockTransport

/// Where the one `container` message of a boot stands.
enum ContainerPhase: Equatable {
    /// None received (or only malformed ones, which change nothing).
    case none
    /// The container root is this process's root.
    case ready
    /// Setup began and failed part-way: exec is refused; the host reboots the guest after a failed create.
    case failed
}

extension Agent {
    /// Handles `container` (PROTOCOL.md §4.23): answers `container_ready` or one session-less `error`.
    func applyContainer(_ request: ContainerRequest, conn: FramedConnection) {
        // Like `network`: an agent that is not init (a development run, the fuzz target) must not remount the
        // machine it runs on.
        guard isInit else { return sendError(conn, .invalidState, "container setup needs vm-init as PID 1") }
        switch container {
        case .ready: return sendError(conn, .invalidState, "the container root is already set up (one container message per boot)")
        case .failed: return sendError(conn, .invalidState, "container setup already failed; the guest must be rebooted")
        case .none: break
        }
        guard !execStarted else {
            return sendError(conn, .invalidState, "container must come before the first exec")
        }
        let builder: ContainerRootBuilder
        do { builder = try ContainerRootBuilder(request, defaultPath: Self.defaultPath) } catch {
            return sendError(conn, error.code, error.message)
        }
        // From here on a failure may leave mounts behind: the phase says so until everything succeeded.
        container = .failed
        let started = SystemControl.bootTimeMicroseconds()
        if let resources = request.resources {
            do {
                for limit in try cgroups.applyLimits(resources) { Log.info("container: \(limit) not applied; the VM's size bounds it") }
            } catch {
                let failure = ContainerError.step("resources: \(error.file)", error.cause)
                Log.error("container: \(failure.message)")
                return sendError(conn, failure.code, failure.message)
            }
        }
        do { try builder.apply() } catch {
            Log.error("container: \(error.message)")
            return sendError(conn, error.code, error.message)
        }
        container = .ready
        Log.info("container root ready in \((SystemControl.bootTimeMicroseconds() - started) / 1000) ms")
        conn.send(.containerReady(ContainerReady(root: "/")))
    }
}
