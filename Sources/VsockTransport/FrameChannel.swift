import LinuxSystem
import VsockProtocol

/// A blocking frame client: send a message, wait for frames under a deadline. For short-lived clients
/// (control commands, tests, benchmarks) that need no event loop. Writes block; reads wait at most until the
/// deadline given.
public final class FrameChannel {
    public let fd: FileDescriptor
    private var decoder: FrameDecoder
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    private var isClosed = false

    /// Takes ownership of a connected stream; `initialBytes` were already read from it.
    public init(fd: FileDescriptor, limits: FrameLimits = .default, initialBytes: [UInt8] = []) {
        self.fd = fd
        self.decoder = FrameDecoder(limits: limits)
        if !initialBytes.isEmpty { decoder.append(initialBytes) }
    }

    /// Connects to a Unix socket.
    public static func connect(unixPath: String) throws(TransportError) -> FrameChannel {
        do {
            return FrameChannel(fd: try UnixSocket.connect(path: unixPath))
        } catch {
            throw TransportError(.unreachable, "connect \(unixPath)", cause: error)
        }
    }

    deinit { close() }

    public func close() {
        guard !isClosed else { return }
        isClosed = true
        fd.close()
    }

    /// Writes one frame, blocking until it is written.
    public func send(_ message: Message, payload: [UInt8] = []) throws(TransportError) {
        var bytes: [UInt8] = []
        Frame.encode(message, payload: payload, into: &bytes)
        do { try fd.writeAll(bytes) } catch { throw TransportError(.system, "send \(message.type)", cause: error) }
    }

    /// The next frame, waiting at most until `deadline`. A malformed frame is `.protocolViolation`; EOF is `.closed`.
    public func receive(deadline: Clock.Instant) throws(TransportError) -> Frame {
        while true {
            if let item = decoder.next() {
                switch item {
                case .frame(let frame): return frame
                case .invalid(let error), .oversized(let error):
                    throw TransportError(.protocolViolation, "bad frame: \(error)")
                }
            }
            // A failed wait (a bad descriptor) falls through to the read, which reports the error.
            guard (try? fd.waitReadable(until: deadline)) ?? true else {
                throw TransportError(.timeout, "no frame before the deadline")
            }
            var result: IOResult<Int> = .wouldBlock
            var failure: SystemError?
            buffer.withUnsafeMutableBytes { raw in
                do throws(SystemError) { result = try fd.readSome(into: raw) } catch { failure = error }
            }
            if let failure { throw TransportError(.system, "receive", cause: failure) }
            switch result {
            case .wouldBlock: continue
            case .processed(0): throw TransportError(.closed, "the peer closed the connection")
            case .processed(let n): decoder.append(buffer[..<n])
            }
        }
    }

    public func receive(timeout: Duration) throws(TransportError) -> Frame {
        try receive(deadline: Clock.deadline(after: timeout))
    }

    /// Frames until one matches `predicate` (the skipped ones are returned too, in order).
    public func receive(until predicate: (Frame) -> Bool,
                        deadline: Clock.Instant) throws(TransportError) -> [Frame] {
        var frames: [Frame] = []
        while true {
            let frame = try receive(deadline: deadline)
            frames.append(frame)
            if predicate(frame) { return frames }
        }
    }
}
