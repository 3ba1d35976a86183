import LinuxSystem
import VsockProtocol

/// One exec session of a control client, relayed to a guest session.
///
/// Two credit windows meet here. Output: the guest may send us `GuestMux.outputWindow` bytes; we forward them
/// to the client as far as the client's credit allows and keep the rest (bounded by the guest window), and
/// return credit to the guest only for bytes handed to the client. Stdin: the client may send us our announced
/// window; we forward as far as the guest's credit allows and keep the rest, and return credit to the client
/// only for bytes handed to the guest. So neither a stalled client nor a stalled guest process grows memory.
final class RelayedSession: GuestSessionDelegate {
    let clientID: SessionID
    private unowned let client: ControlClient
    var guest: GuestSession?

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

    init(clientID: SessionID, client: ControlClient, clientWindow: UInt32, clientMaxPayload: UInt32,
         stdinWindow: UInt32, stdinAllowed: Bool) {
        self.clientID = clientID
        self.client = client
        self.clientCredit = SendWindow(initial: clientWindow)
        // A client announcing max_payload 0 could never get output; one byte per frame still makes progress.
        self.clientMaxPayload = max(1, Int(clientMaxPayload))
        self.stdinAllowed = stdinAllowed
        self.stdinWindow = ReceiveWindow(window: stdinWindow)
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
        do { try stdinWindow.receive(bytes.count, session: clientID) } catch {
            return client.send(.error(error.errorMessage))
        }
        if !bytes.isEmpty { pendingStdin.append(bytes) }
        pumpStdin()
    }

    func clientStdinClose() {
        stdinCloseRequested = true
        pumpStdin()
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
            guard pendingStdinOffset == chunk.count else { break }
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
        if pendingOutput.isEmpty, let status = exitStatus {
            exitStatus = nil
            client.send(.exit(ExitReport(session: clientID, status: status)))
            client.sessionEnded(self)
        }
    }

    func guestSessionStarted(_ session: GuestSession, pid: Int32) {
        client.send(.started(Started(session: clientID, pid: pid)))
        pumpStdin()
    }

    func guestSessionStartFailed(_ session: GuestSession, _ failure: StartFailed) {
        var failure = failure
        failure.session = clientID
        client.send(.startFailed(failure))
        client.sessionEnded(self)
    }

    func guestSession(_ session: GuestSession, output bytes: [UInt8], stderr: Bool) {
        pendingOutput.append((bytes, stderr))
        pumpOutput()
    }

    func guestSessionExited(_ session: GuestSession, _ status: ExitStatus) {
        exitStatus = status
        pumpOutput()
    }

    func guestSessionStdinCredit(_ session: GuestSession) { pumpStdin() }

    func guestSessionError(_ session: GuestSession, _ error: ErrorMessage) {
        var error = error
        error.session = clientID
        client.send(.error(error))
    }

    func guestSessionLost(_ session: GuestSession) {
        client.send(.error(ErrorMessage(code: .internal, message: "the guest connection was lost", session: clientID)))
        client.sessionEnded(self)
    }
}

extension GuestSession: StdinTarget {}
