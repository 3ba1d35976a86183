import Glibc
import LinuxSystem
import VsockProtocol

/// One non-blocking stream socket speaking VsockProtocol frames, driven by an ``EventLoop``.
///
/// Reads are decoded incrementally and handed to `onFrame`; malformed or oversized frames are answered with an
/// `error` frame and reading goes on. Writes go through an ``OutboundQueue`` (control before bulk); write
/// interest is armed only while bytes are queued. `onClose` is called once, after the descriptor is closed.
final class FramedConnection {
    let fd: FileDescriptor
    private unowned let loop: EventLoop
    private var decoder: FrameDecoder
    private var outbound = OutboundQueue()
    private(set) var isClosed = false
    /// Set while reads are paused (back-pressure from the consumer).
    private var readPaused = false
    private let label: String

    var onFrame: (Frame) -> Void = { _ in }
    /// Called after an `.invalid`/`.oversized` frame was answered, for logging.
    var onProtocolError: (ProtocolError) -> Void = { _ in }
    var onClose: (SystemError?) -> Void = { _ in }

    /// Bytes queued for writing.
    var queuedBytes: Int { outbound.byteCount }

    private static let readChunk = 256 * 1024
    /// Most bytes queued for a peer that does not read (vm-init allows the host 32 MiB; a guest gets less).
    static let maxQueuedBytes = 8 << 20
    private let readBuffer = ReadBuffer(capacity: FramedConnection.readChunk)

    init(fd: FileDescriptor, loop: EventLoop, limits: FrameLimits = .default, label: String) {
        self.fd = fd
        self.loop = loop
        self.decoder = FrameDecoder(limits: limits)
        self.label = label
    }

    /// Starts reading. `initialBytes` are bytes already read from the socket (e.g. after a handshake line).
    func start(initialBytes: [UInt8] = []) throws(SystemError) {
        try fd.setNonBlocking()
        try loop.register(fd, interest: .read) { [weak self] events in self?.handle(events) }
        if !initialBytes.isEmpty {
            decoder.append(initialBytes)
            loop.post { [weak self] in self?.deliverFrames() }
        }
    }

    /// Queues a message (and its payload) and writes what the socket takes now.
    func send(_ message: Message, payload: [UInt8] = []) {
        guard !isClosed else { return }
        outbound.enqueue(message, payload: payload)
        flush()
    }

    /// Queues a message whose payload is a slice of a larger buffer.
    func send(_ message: Message, payload: UnsafeRawBufferPointer) {
        guard !isClosed else { return }
        var bytes: [UInt8] = []
        Frame.encode(message, payload: payload, into: &bytes)
        outbound.enqueue(bytes, control: message.isControl)
        flush()
    }

    /// Stops or resumes reading from the socket (the peer is then held back by TCP-like socket buffers).
    func setReadPaused(_ paused: Bool) {
        guard !isClosed, paused != readPaused else { return }
        readPaused = paused
        updateInterest()
    }

    /// Closes now; queued bytes are dropped.
    func close(error: SystemError? = nil) {
        guard !isClosed else { return }
        isClosed = true
        loop.unregister(fd)
        fd.close()
        onClose(error)
    }

    /// Closes once everything queued has been written (or at once if nothing is).
    func closeWhenFlushed() {
        closeAfterFlush = true
        if outbound.isEmpty { close() }
    }
    private var closeAfterFlush = false

    private func handle(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) { readAvailable() }
    }

    private func readAvailable() {
        guard !isClosed, !readPaused else { return }
        // Bounded: at most a few reads per wake-up so one busy socket cannot starve the loop.
        for _ in 0..<4 {
            let result: Int?
            do {
                result = try readBuffer.read(from: fd)
            } catch {
                close(error: error)
                return
            }
            guard let n = result else { break }
            if n == 0 {
                deliverFrames()
                close()
                return
            }
            decoder.append(readBuffer.prefix(n))
            deliverFrames()
            if isClosed || readPaused || n < Self.readChunk { break }
        }
    }

    private func deliverFrames() {
        while !isClosed, let item = decoder.next() {
            switch item {
            case .frame(let frame):
                onFrame(frame)
            case .invalid(let error), .oversized(let error):
                send(.error(error.errorMessage))
                onProtocolError(error)
            }
        }
    }

    private func flush() {
        guard !isClosed else { return }
        do {
            try outbound.drain(writev: { buffers in try fd.writev(buffers) })
        } catch {
            close(error: error as? SystemError)
            return
        }
        if closeAfterFlush && outbound.isEmpty { close(); return }
        // A peer that never reads while making us answer (pings, bad frames) must not grow this queue forever.
        if outbound.byteCount > Self.maxQueuedBytes {
            close(error: SystemError("write", errno: ENOBUFS,
                                     "\(label) peer is not reading (\(outbound.byteCount) bytes queued)"))
            return
        }
        updateInterest()
    }

    private func updateInterest() {
        guard !isClosed else { return }
        var interest: EventLoop.Interest = []
        if !readPaused { interest.insert(.read) }
        if !outbound.isEmpty { interest.insert(.write) }
        do { try loop.modify(fd, interest: interest) } catch { close(error: error) }
    }
}
