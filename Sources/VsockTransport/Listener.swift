import Glibc
import LinuxSystem

/// A listening socket driven by an ``EventLoop``: accepts every pending connection and hands each to
/// `onAccept`.
///
/// When accept fails (out of descriptors: EMFILE/ENFILE, or memory), the pending connection stays queued and the
/// level-triggered listener stays readable, so watching it would spin the loop. The listener is unregistered
/// instead and re-registered after ``backOff``; clients wait in the backlog meanwhile.
public final class Listener {
    public enum Kind: Sendable {
        case unix
        /// AF_VSOCK; connections from any other CID than `allowedCID` are closed at once.
        case vsock(allowedCID: UInt32)

        /// Whether a peer with this vsock CID may connect (any peer of a Unix socket may).
        public func admits(cid: UInt32) -> Bool {
            switch self {
            case .unix: true
            case .vsock(let allowed): cid == allowed
            }
        }
    }

    public let fd: FileDescriptor
    public let kind: Kind
    /// Held strongly, as the loop holds this listener while it is registered or backing off; ``close()`` ends both.
    private let loop: EventLoop
    private var isClosed = false
    private var isBackingOff = false
    /// How long accepting pauses after a failure.
    public static let backOff: Duration = .milliseconds(100)
    /// How many times accepting paused (for tests and diagnostics).
    public private(set) var backOffCount = 0

    /// Called with each accepted descriptor (non-blocking, close-on-exec) and, for vsock, the peer's CID and port.
    public var onAccept: (FileDescriptor, _ cid: UInt32?, _ port: UInt32?) -> Void = { fd, _, _ in fd.close() }
    /// Called when accept fails (the listener then backs off) or a vsock peer is refused, for logging.
    public var onError: (String) -> Void = { _ in }

    /// Wraps a socket that already listens (see ``unix(path:backlog:loop:)`` and ``vsock(port:loop:)``).
    public init(listening fd: FileDescriptor, kind: Kind, loop: EventLoop) {
        self.fd = fd
        self.kind = kind
        self.loop = loop
    }

    public static func unix(path: String, backlog: Int32 = 64, loop: EventLoop) throws(SystemError) -> Listener {
        Listener(listening: try UnixSocket.listen(path: path, backlog: backlog), kind: .unix, loop: loop)
    }

    /// vm-init's listener: only the host (CID 2) may connect, never another VM or a local (CID 1) process.
    public static func vsock(port: UInt32, loop: EventLoop) throws(SystemError) -> Listener {
        Listener(listening: try VsockSocket.listen(port: port), kind: .vsock(allowedCID: VsockSocket.hostCID), loop: loop)
    }

    public func start() throws(SystemError) {
        try loop.register(fd, interest: .read) { [self] _ in acceptAll() }
    }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        if !isBackingOff { loop.unregister(fd) }
        fd.close()
    }

    private func acceptAll() {
        while !isClosed {
            do {
                switch kind {
                case .unix:
                    guard let accepted = try UnixSocket.accept(fd) else { return }
                    onAccept(accepted, nil, nil)
                case .vsock(let allowed):
                    guard let (accepted, cid, port) = try VsockSocket.accept(fd) else { return }
                    guard kind.admits(cid: cid) else {
                        onError("refused vsock connection from CID \(cid) port \(port): only CID \(allowed) may connect")
                        accepted.close()
                        continue
                    }
                    onAccept(accepted, cid, port)
                }
            } catch {
                onError("accept: \(error); pausing \(Self.backOff)")
                pause()
                return
            }
        }
    }

    private func pause() {
        backOffCount += 1
        isBackingOff = true
        loop.unregister(fd)
        loop.addTimer(after: Self.backOff) { [self] in
            guard !isClosed else { return }
            isBackingOff = false
            do throws(SystemError) { try start() } catch { onError("listener: \(error)") }
        }
    }
}
