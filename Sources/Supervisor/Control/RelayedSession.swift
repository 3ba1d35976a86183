import LinuxSystem
import VsockProtocol

/// One exec session of a control client, relayed to a guest session.
///
/// Two credit windows meet here. Output: the guest may send us `GuestMux.outputWindow` bytes; we forward them
/// to the client as far as the client's credit allows and keep the rest (bounded by the guest window), and
/// return credit to the guest only for bytes handed to the client. Stdin: the client may send us our announced
/// window; we forward as far as the guest's credit allows and keep the rest, and return credit to the client
/// only for bytes handed to the guest. So neither a stalled client nor a stalled guest process grows memory.
///
/// Or stdin is a pipe the client passed with its `exec` (PROTOCOL.md §11, `stdin_descriptor`): then this side
/// reads it (an ``InputPump``, within the guest's credit, never waiting) and the client sends no `stdin`. The
/// descriptor is closed at end of file, when the session ends, and when the client goes.
///
/// Likewise stdout and stderr may be pipes the client passed (§11.3, `stdout_descriptor`, `stderr_descriptor`):
/// then this side writes the guest's output there (an ``OutputSink`` that never waits or touches the pipe's
/// flags), returns the guest's credit as bytes enter the pipe, and sends `exit` only once every byte is in and
/// its copies of the pipes are closed, so the client's reader sees all output and then end of file.
final class RelayedSession: GuestSessionDelegate {
    let clientID: SessionID
    private unowned let client: ControlClient
    private unowned let loop: EventLoop
    var guest: GuestSession?
    /// The client's stdin pipe, until end of file or the session's end; and what reads it once started.
    private var stdinDescriptor: FileDescriptor?
    private var stdinPump: InputPump?
    /// Writers of the client's passed stdout and stderr pipes, where it passed them; closed once drained after
    /// the exit, or when the session or the client goes.
    private var stdoutSink: OutputSink?
    private var stderrSink: OutputSink?

    private var clientCredit: SendWindow
    /// The client's `hello.limits.max_payload`: output frames to it are split to fit (PROTOCOL.md §3).
    private let clientMaxPayload: Int
    /// The exec had `"stdin": true` (PROTOCOL.md §4.5: otherwise `stdin` is `invalid_state`).
    private let stdinAllowed: Bool
    /// Output arrays as the guest connection decoded them, forwarded as they are when credit allows.
    private var pendingOutput = ChunkQueue<(bytes: [UInt8], stderr: Bool)>()
    private var pendingOutputOffset = 0

    private var stdinWindow: ReceiveWindow
    /// Stdin arrays as the client connection decoded them, and how much of the first went to the guest.
    private var pendingStdin = ChunkQueue<[UInt8]>()
    private var pendingStdinOffset = 0
    private var stdinCloseRequested = false
    private var stdinClosed = false
    private var exitStatus: ExitStatus?

    init(clientID: SessionID, client: ControlClient, loop: EventLoop, clientWindow: UInt32, clientMaxPayload: UInt32,
         stdinWindow: UInt32, stdinAllowed: Bool, passed: PassedStdio = PassedStdio()) {
        self.clientID = clientID
        self.client = client
        self.loop = loop
        self.stdinDescriptor = passed.stdin
        self.clientCredit = SendWindow(initial: clientWindow)
        // A client announcing max_payload 0 could never get output; one byte per frame still makes progress.
        self.clientMaxPayload = max(1, Int(clientMaxPayload))
        self.stdinAllowed = stdinAllowed
        self.readsPassedStdin = passed.stdin != nil
        self.stdinWindow = ReceiveWindow(window: stdinWindow)
        stdoutSink = passed.stdout.map(makeSink)
        stderrSink = passed.stderr.map(makeSink)
    }

    /// A writer of a passed output pipe, grown like a stdin pipe (best effort) so the guest's frames fit whole.
    private func makeSink(_ fd: FileDescriptor) -> OutputSink {
        _ = try? fd.setPipeCapacity(InputPump.maxRead)
        let sink = OutputSink(fd: fd, loop: loop, writesWithoutWaiting: true)
        sink.onConsumed = { [unowned self] count in self.guest?.outputConsumed(count) }
        sink.onDrained = { [unowned self] in self.finishIfDrained() }
        return sink
    }

    // MARK: client → guest

    func clientStdin(_ bytes: [UInt8]) {
        guard stdinAllowed else {
            return client.send(.error(ErrorMessage(code: .invalidState, message: "session \(clientID) was started without stdin",
                                                   session: clientID)))
        }
        guard !stdinCloseRequested else {
            return client.send(.error(ErrorMessage(code: .invalidState, message: "stdin after stdin_close", session: clientID)))
        }
        guard !readsPassedStdin else { return refusePassedStdin("stdin") }
        do { try stdinWindow.receive(bytes.count, session: clientID) } catch {
            return client.send(.error(error.errorMessage))
        }
        if !bytes.isEmpty { pendingStdin.append(bytes) }
        pumpStdin()
    }

    func clientStdinClose() {
        guard !readsPassedStdin else { return refusePassedStdin("stdin_close") }
        stdinCloseRequested = true
        pumpStdin()
    }

    /// Whether stdin comes from the passed pipe (also after its end of file: frames stay refused).
    private let readsPassedStdin: Bool

    private func refusePassedStdin(_ type: String) {
        let text = "\(type) for session \(clientID), whose stdin is the passed descriptor"
        client.send(.error(ErrorMessage(code: .invalidState, message: text, session: clientID)))
    }

    /// Starts reading the passed pipe (once the process runs: a program that never started consumes nothing).
    private func startPassedStdin() {
        guard let fd = stdinDescriptor, stdinPump == nil, let guest else { return }
        let pump = InputPump(fd: fd, loop: loop, target: guest, readsWithoutWaiting: true)
        pump.onEndOfInput = { [unowned self] in self.releaseStdin() }
        stdinPump = pump
        pump.start()
    }

    /// Stops reading the passed pipe and closes this process's copy of it (idempotent). The pump is stopped
    /// first: epoll keeps a registration until every descriptor of the pipe is closed, in any process.
    func releaseStdin() {
        stdinPump?.stop()
        stdinPump = nil
        stdinDescriptor?.close()
        stdinDescriptor = nil
    }

    /// Stops writing the passed output pipes and closes this process's copies (idempotent); what was not
    /// written yet is dropped.
    private func releaseOutput() {
        for sink in [stdoutSink, stderrSink].compactMap({ $0 }) {
            sink.close()
            sink.fd.close()
        }
        stdoutSink = nil
        stderrSink = nil
    }

    /// Closes every pipe the client passed (the client went, or the session ended without an exit).
    func releasePassed() {
        releaseStdin()
        releaseOutput()
    }

    func clientGrantedOutput(_ bytes: UInt32) {
        do { try clientCredit.grant(bytes, session: clientID) } catch { return client.send(.error(error.errorMessage)) }
        pumpOutput()
    }

    private func pumpStdin() {
        guard let guest, !stdinClosed else { return }
        var sent = 0
        while let chunk = pendingStdin.first {
            // A whole array goes out as the frame's payload segment; only the rest of a part-sent one is copied.
            let n = pendingStdinOffset == 0
                ? guest.sendStdin(chunk)
                : chunk.withUnsafeBytes { guest.sendStdin(UnsafeRawBufferPointer(rebasing: $0[pendingStdinOffset...])) }
            guard n > 0 else { break }
            sent += n
            pendingStdinOffset += n
            // Part of it: credit ran out (the next call takes nothing), or the guest's max_payload cut the frame.
            guard pendingStdinOffset == chunk.count else { continue }
            pendingStdin.removeFirst()
            pendingStdinOffset = 0
        }
        if sent > 0, let grant = stdinWindow.consume(sent) {
            client.send(.window(WindowUpdate(session: clientID, bytes: grant)))
        }
        if stdinCloseRequested && pendingStdin.isEmpty {
            stdinClosed = true
            guest.closeStdin()
        }
    }

    // MARK: guest → client

    private func pumpOutput() {
        while let first = pendingOutput.first {
            let remaining = first.bytes.count - pendingOutputOffset
            let n = clientCredit.take(upTo: min(remaining, clientMaxPayload))
            guard n > 0 else { break }
            let ref = SessionRef(session: clientID)
            let message: Message = first.stderr ? .stderr(ref) : .stdout(ref)
            if n == first.bytes.count {
                client.send(message, payload: first.bytes)  // the received array is the payload segment: no copy
            } else {
                let part = first.bytes[pendingOutputOffset..<(pendingOutputOffset + n)]
                part.withUnsafeBytes { client.send(message, payload: $0) }
            }
            guest?.outputConsumed(n)
            pendingOutputOffset += n
            if pendingOutputOffset == first.bytes.count { pendingOutput.removeFirst(); pendingOutputOffset = 0 }
        }
        finishIfDrained()
    }

    /// After the exit: once all output reached the client or its pipes, closes the pipes and sends `exit`.
    private func finishIfDrained() {
        guard let status = exitStatus, pendingOutput.isEmpty, stdoutSink?.isIdle ?? true, stderrSink?.isIdle ?? true else {
            return
        }
        exitStatus = nil
        releaseOutput()
        client.send(.exit(ExitReport(session: clientID, status: status)))
        client.sessionEnded(self)
    }

    func guestSessionStarted(_ session: GuestSession, pid: Int32) {
        client.send(.started(Started(session: clientID, pid: pid)))
        pumpStdin()
        startPassedStdin()
    }

    func guestSessionStartFailed(_ session: GuestSession, _ failure: StartFailed) {
        releasePassed()
        var failure = failure
        failure.session = clientID
        client.send(.startFailed(failure))
        client.sessionEnded(self)
    }

    func guestSession(_ session: GuestSession, output bytes: [UInt8], stderr: Bool) {
        if let sink = stderr ? stderrSink : stdoutSink { return sink.write(bytes) }
        pendingOutput.append((bytes, stderr))
        pumpOutput()
    }

    func guestSessionExited(_ session: GuestSession, _ status: ExitStatus) {
        // The process is gone: what is left in the pipe stays there for whoever else reads it.
        releaseStdin()
        exitStatus = status
        pumpOutput()
    }

    func guestSessionStdinCredit(_ session: GuestSession) {
        pumpStdin()
        stdinPump?.creditChanged()
    }

    func guestSessionError(_ session: GuestSession, _ error: ErrorMessage) {
        var error = error
        error.session = clientID
        client.send(.error(error))
    }

    func guestSessionLost(_ session: GuestSession) {
        releasePassed()
        client.send(.error(ErrorMessage(code: .internal, message: "the guest connection was lost", session: clientID)))
        client.sessionEnded(self)
    }
}

extension GuestSession: StdinTarget {}

/// The pipes a control client passed with its `exec` (PROTOCOL.md §11.2–11.3); nil for a stream relayed in frames.
struct PassedStdio {
    var stdin: FileDescriptor?
    var stdout: FileDescriptor?
    var stderr: FileDescriptor?

    func close() {
        stdin?.close()
        stdout?.close()
        stderr?.close()
    }
}
