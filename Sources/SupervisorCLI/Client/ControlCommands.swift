import Glibc
import LinuxSystem
import Supervisor
import VMM
import VsockProtocol
import VsockTransport

/// The one-shot control commands: `state`, `events`, `kill`, `stop`, `list`.
public enum ControlCommands {
    /// Sends one message on the control socket of VM `id` (after the hello exchange) and waits until the
    /// supervisor has read it (it answers our ping after everything sent before it).
    public static func send(_ message: Message, stateRoot: String, id: String) throws(SupervisorError) {
        let path = StateDirectory(root: stateRoot, id: id).controlSocket
        let fd: FileDescriptor
        do { fd = try UnixSocket.connect(path: path) } catch {
            throw SupervisorError(.startFailed, "VM \(id) is not running (\(path): \(error))")
        }
        defer { fd.close() }
        var bytes: [UInt8] = []
        Frame.encode(.hello(Hello(role: .client, agent: "fc-supervisor/0.1")), into: &bytes)
        Frame.encode(message, into: &bytes)
        Frame.encode(.ping(Ping(id: 1)), into: &bytes)
        do { try fd.writeAll(bytes) } catch { throw SupervisorError(.startFailed, "\(error)") }
        var decoder = FrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = Clock.deadline(after: .seconds(5))
        // No pong in time, or the connection closed: the message was written, which is all a one-shot command
        // can know.
        while (try? fd.waitReadable(until: deadline)) == true {
            guard let n = try? buffer.withUnsafeMutableBytes({ raw in try fd.read(into: raw) }) ?? 0, n > 0 else { return }
            decoder.append(buffer[..<n])
            while let item = decoder.next() {
                if case .frame(let frame) = item {
                    if case .pong = frame.message { return }
                    if case .error(let e) = frame.message { throw SupervisorError(.startFailed, "\(e.code): \(e.message)") }
                }
            }
        }
    }

    /// Asks the supervisor of VM `id` to start its held workload, or to pause or resume the VM, and waits for
    /// the answer. A refusal is `invalid_state` with runc's text (`cannot start an already running container`,
    /// `container not running`, …), which becomes the error's message unchanged.
    public static func lifecycle(_ action: LifecycleAction, stateRoot: String, id: String,
                                 timeout: Duration = .seconds(30)) throws(SupervisorError) -> LifecycleDone {
        try lifecycle(LifecycleRequest(action: action), stateRoot: stateRoot, id: id, timeout: timeout)
    }

    /// ``lifecycle(_:stateRoot:id:timeout:)`` with a whole request (`checkpoint` carries its directory).
    public static func lifecycle(_ request: LifecycleRequest, stateRoot: String, id: String,
                                 timeout: Duration) throws(SupervisorError) -> LifecycleDone {
        let action = request.action
        let path = StateDirectory(root: stateRoot, id: id).controlSocket
        let channel: FrameChannel
        do { channel = try FrameChannel.connect(unixPath: path) } catch {
            throw SupervisorError(.startFailed, "container not running (\(path): \(error))", cause: error)
        }
        defer { channel.close() }
        let deadline = Clock.deadline(after: timeout)
        do {
            try channel.send(.hello(Hello(role: .client, agent: "fc-supervisor/0.1")))
            try channel.send(.lifecycle(request))
            while true {
                switch try channel.receive(deadline: deadline).message {
                case .lifecycleDone(let done) where done.action == action: return done
                case .error(let refusal) where refusal.session == nil: throw SupervisorError(.startFailed, refusal.message)
                default: continue  // the supervisor's hello
                }
            }
        } catch let error as SupervisorError {
            throw error
        } catch {
            throw SupervisorError(.startFailed, "\(action) \(id): \(error)", cause: error)
        }
    }

    /// The state of VM `id`; nil when no supervisor runs it.
    public static func state(stateRoot: String, id: String) -> SupervisorState? {
        let directory = StateDirectory(root: stateRoot, id: id)
        guard let bytes = try? Files.readAll(directory.stateFile),
              var state = try? JSONBody.decode(SupervisorState.self, from: bytes) else { return nil }
        // Signal 0 checks that the process exists; a supervisor killed with -9 never wrote "stopped".
        do { try ChildProcess.signal(state.supervisorPid, 0) } catch where error.errno == ESRCH { state.state = .stopped } catch {}
        return state
    }

    /// Ids of the VMs with a state directory under `stateRoot`.
    public static func list(stateRoot: String) -> [SupervisorState] {
        Directory.names(stateRoot).compactMap { state(stateRoot: stateRoot, id: $0) }
    }

    /// Copies `events.jsonl` to stdout; with `follow`, keeps reading until the supervisor is gone.
    public static func events(stateRoot: String, id: String, follow: Bool) throws(SupervisorError) {
        let path = StateDirectory(root: stateRoot, id: id).eventsFile
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(path, flags: O_RDONLY) } catch {
            throw SupervisorError(.startFailed, "VM \(id) has no events (\(path))", cause: error)
        }
        defer { fd.close() }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = (try? buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.readSome(into: raw) })?.value ?? 0
            if n > 0 {
                do { try FileDescriptor.standardOutput.writeAll(Array(buffer[..<n])) } catch {
                    throw SupervisorError(.startFailed, "cannot write the events: \(error)", cause: error)
                }
                continue
            }
            // The file only grows while the supervisor lives: at its end, poll for more lines (a file cannot be
            // waited on with poll).
            guard follow, let current = state(stateRoot: stateRoot, id: id), current.state != .stopped else { return }
            Clock.sleep(.milliseconds(100))
        }
    }
}
