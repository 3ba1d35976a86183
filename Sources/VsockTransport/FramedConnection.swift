import Glibc
import LinuxSystem
import VsockProtocol

/// One non-blocking stream (socket or serial port) speaking VsockProtocol frames, driven by an ``EventLoop``.
/// vm-init and the supervisor both use it, for every connection they serve or open.
///
/// Reads are decoded incrementally, checked by an optional ``ConnectionState`` (PROTOCOL.md §7) and handed to
/// `onFrame`; malformed or oversized frames are answered with an `error` frame and reading goes on. Writes go
/// through an ``OutboundQueue`` (control before bulk) and are flushed once per loop turn, however many frames
/// the turn queued; write interest is armed only while bytes are queued. `onClose` is called once, after the
/// descriptor is closed.
public final class FramedConnection {
    /// Per-side tuning.
    public struct Options: Sendable {
        /// Reads per wake-up, so one busy peer cannot starve the loop.
        public var readBudget: Int
        /// A peer that lets more than this pile up (it does not read) is dropped.
        public var maxQueuedBytes: Int
        /// When a flush takes the queue from at or above this size to below it, `onDrained` is called (nil:
        /// never). Owners that stop queueing bulk data on a congested connection resume from there.
        public var drainedThreshold: Int?

        /// Largest piece one `read`/`write` of the descriptor moves, when it is smaller than the buffers we offer
        /// (nil: no such limit, as for sockets). A virtio-serial port's driver has no vectored I/O: the kernel
        /// calls its read/write once per iovec and stops at the first short one, and each call moves at most one
        /// 4 KiB receive buffer or one 32 KiB transmit buffer. Offering iovecs of exactly those sizes lets one
        /// `readv`/`writev` move up to 1 MiB instead of 4 or 32 KiB per system call.
        public var readPiece: Int?
        public var writePiece: Int?
        /// Most descriptors the peer may have passed (SCM_RIGHTS on a Unix socket) that the owner has not claimed
        /// with ``FramedConnection/takeDescriptor()``; 0 (the default): none are taken, reads are plain and the
        /// kernel closes any that come. See ``FramedConnection/takeDescriptor()``.
        public var descriptorLimit = 0
        /// Splice each frame whose payload is spliced, header and payload, through a pipe of this connection's
        /// own, so that the pipe spliced to the descriptor holds exactly the bytes that one `splice` moves. Needed
        /// for a virtio-serial port: Linux's virtio_console (`port_fops_splice_write`, at least to 6.1) sizes its
        /// scatterlist to the pipe's whole occupancy and ends it there, so a splice of fewer bytes than the pipe
        /// holds hands the device trailing zero-length descriptors, and QEMU then declares the device broken
        /// ("zero sized buffers are not allowed"): the channel is dead. One more `splice` per frame, pipe to
        /// pipe, moves page references only; the header written into that pipe first makes the frame one
        /// descriptor chain and one notification of the host instead of two.
        public var stagesSplices = false

        public init(readBudget: Int, maxQueuedBytes: Int, drainedThreshold: Int? = nil, readPiece: Int? = nil,
                    writePiece: Int? = nil) {
            self.readBudget = readBudget
            self.maxQueuedBytes = maxQueuedBytes
            self.drainedThreshold = drainedThreshold
            self.readPiece = readPiece
            self.writePiece = writePiece
        }

        /// For a virtio-serial port (Linux's virtio_console: 4 KiB receive buffers, 32 KiB per write).
        public func forSerialPort() -> Options {
            var options = self
            options.readPiece = 4096
            options.writePiece = 32 * 1024
            options.stagesSplices = true
            return options
        }

        /// The host side: a guest gets little room.
        public static let supervisor = Options(readBudget: 4, maxQueuedBytes: 8 << 20)
        /// vm-init: the host may fall further behind (output bursts), and busy sessions get more reads per turn.
        public static let vmInit = Options(readBudget: 8, maxQueuedBytes: 32 << 20)
    }

    public let fd: FileDescriptor
    /// The owner's name for this connection (vm-init ties sessions to it); not used here.
    public let id: UInt64
    public let label: String
    public let options: Options
    /// Held strongly, as the loop holds this connection while it is registered: ``close(error:)`` unregisters it,
    /// which ends both references (no `weak` or `unowned`, which Embedded Swift does not have).
    private let loop: EventLoop
    private var decoder: FrameDecoder
    private var outbound = OutboundQueue()
    /// PROTOCOL.md §7, when this side enforces it.
    public private(set) var state: ConnectionState?
    public private(set) var isClosed = false
    /// `closeWhenFlushed` was called: nothing more is read, delivered or queued.
    public private(set) var isClosing = false
    private var flushScheduled = false
    /// The epoll interest last set (read, plus write while bytes are queued; no read once closing).
    private var armed: EventLoop.Interest = .read

    /// A frame the application may act on.
    public var onFrame: (Frame) -> Void = { _ in }
    /// Called after an `.invalid`/`.oversized` frame was answered, for logging.
    public var onProtocolError: (ProtocolError) -> Void = { _ in }
    /// Called after the state machine refused a message (the `error` is already queued), for logging.
    public var onRefused: (Message, ErrorMessage) -> Void = { _, _ in }
    /// See ``Options/drainedThreshold``.
    public var onDrained: () -> Void = {}
    /// A payload queued by ``send(_:splicing:from:)`` was written out completely; called with its source, after
    /// the flush that finished it.
    public var onSpliced: (FileDescriptor) -> Void = { _ in }
    public var onClose: (SystemError?) -> Void = { _ in }

    /// Bytes queued for writing.
    public var queuedBytes: Int { outbound.byteCount }
    /// The peer's accepted `hello` (only with a ``ConnectionState``).
    public var peerHello: Hello? { state?.peerHello }

    /// Descriptors the peer passed and the owner has not claimed, oldest first (``Options/descriptorLimit``).
    private var receivedDescriptors: [FileDescriptor] = []

    /// With ``Options/stagesSplices``: the pipe spliced frames pass through, and what it holds: the rest of one
    /// frame, `head` bytes of its header and then payload bytes of `source`, `count` in all (nil: it is empty; it
    /// never holds anything else).
    private var staging: Pipe?
    private var staged: (source: Int32, count: Int, head: Int)?
    /// Capacity of the staging pipe: vm-init's largest spliced payload (1 MiB, 256 pipe slots) and the header
    /// before it (one more slot), rounded up to a power of two.
    private static let stagingCapacity = 2 << 20

    private static let readChunk = 256 * 1024
    private let readBuffer = ReadBuffer(capacity: FramedConnection.readChunk)

    public init(fd: FileDescriptor, loop: EventLoop, limits: FrameLimits = .default, label: String, id: UInt64 = 0,
                options: Options = .supervisor, state: ConnectionState? = nil) {
        self.fd = fd
        self.id = id
        self.loop = loop
        self.decoder = FrameDecoder(limits: limits)
        self.label = label
        self.options = options
        self.state = state
    }

    /// Makes this connection enforce PROTOCOL.md §7 from its first frame (for owners that are handed a
    /// connection someone else built). Call before ``start(initialBytes:)``.
    public func enforce(_ state: ConnectionState) { self.state = state }

    /// Starts reading. `initialBytes` are bytes already read from the stream (e.g. after a handshake line).
    public func start(initialBytes: [UInt8] = []) throws(SystemError) {
        try fd.setNonBlocking()
        try loop.register(fd, interest: .read) { [self] events in handle(events) }
        if !initialBytes.isEmpty {
            decoder.append(initialBytes)
            loop.post { [self] in deliverFrames() }
        }
    }

    /// Queues a message (and its payload); it is written at the end of this loop turn.
    public func send(_ message: Message, payload: [UInt8] = []) {
        guard !isClosed, !isClosing else { return }
        outbound.enqueue(message, payload: payload)
        scheduleFlush()
    }

    /// Queues a message whose payload is a slice of a larger buffer (copied once, into the queue).
    public func send(_ message: Message, payload: UnsafeRawBufferPointer) {
        guard !isClosed, !isClosing else { return }
        outbound.enqueue(message, payload: payload)
        scheduleFlush()
    }

    /// Queues a message whose payload is part of an array (a whole array is kept, not copied).
    public func send(_ message: Message, payload: ArraySlice<UInt8>) {
        guard !isClosed, !isClosing else { return }
        outbound.enqueue(message, payload: payload)
        scheduleFlush()
    }

    /// Queues a stdio message whose payload is the next `count` bytes waiting in the pipe `source`: the kernel
    /// moves them to this connection (`splice(2)`) when the header is out, without a copy through user space.
    /// Those bytes must already be in the pipe, and nobody may read it until ``onSpliced`` names it (or the
    /// connection closes, when what was not moved stays in the pipe). `source` must stay open until then.
    public func send(_ message: Message, splicing count: Int, from source: FileDescriptor) {
        guard !isClosed, !isClosing else { return }
        outbound.enqueue(message, splicing: SplicedPayload(source: source.rawValue, count: count))
        scheduleFlush()
    }

    /// Bytes of payloads spliced from `source` that are queued and not yet moved (they are still in its pipe).
    public func splicedBytesQueued(from source: FileDescriptor) -> Int {
        outbound.splicedBytes(from: source.rawValue) - (staged.map { $0.source == source.rawValue ? $0.count - $0.head : 0 } ?? 0)
    }

    /// Closes now; queued bytes are dropped.
    public func close(error: SystemError? = nil) {
        guard !isClosed else { return }
        isClosed = true
        state?.close()
        loop.unregister(fd)
        fd.close()
        for descriptor in receivedDescriptors { descriptor.close() }
        receivedDescriptors = []
        staging?.close()
        staging = nil
        staged = nil
        onClose(error)
    }

    /// Stops reading and closes once everything queued has been written (or at once if nothing is).
    public func closeWhenFlushed() {
        guard !isClosed else { return }
        isClosing = true
        state?.close()
        // Flush now: this also stops read interest, so a peer that keeps writing cannot spin the loop.
        flush()
    }

    /// Writes what the stream takes now, instead of at the end of the loop turn.
    public func flushNow() { flush() }

    /// Last chance before the process ends (vm-init powering off): writes what is queued, waiting for the peer
    /// to take it, but never past `deadline`, so a host that stopped reading cannot hold the power-off forever.
    /// Returns whether everything was written.
    @discardableResult
    public func flush(until deadline: Clock.Instant) -> Bool {
        while !isClosed {
            do {
                try drainQueue()
                _ = outbound.takeFinishedSplices()
                if outbound.isEmpty { return true }
                guard try fd.waitWritable(until: deadline) else { return false }
            } catch {
                return false
            }
        }
        return outbound.isEmpty
    }

    private func drainQueue() throws(SystemError) {
        let writev = { (buffers: [UnsafeRawBufferPointer]) throws(SystemError) -> Int in try self.writeSegments(buffers) }
        guard options.stagesSplices else {
            return try outbound.drain(writev: writev, splice: { (spliced) throws(SystemError) -> Int in
                try move(from: FileDescriptor(rawValue: spliced.source), to: fd, owed: spliced.count)
            })
        }
        try outbound.drain(writev: writev, spliceFrame: { (head, payload) throws(SystemError) -> Int in
            try stageAndSplice(head: head, payload)
        })
    }

    /// Moves the rest of a spliced frame, header first, through the staging pipe; 0 when this stream has no room.
    private func stageAndSplice(head: UnsafeRawBufferPointer, _ spliced: SplicedPayload) throws(SystemError) -> Int {
        // Refill only once empty: what is staged is then exactly what the next splice to `fd` moves.
        let pipe = try stagingPipe()
        let count: Int, headBytes: Int
        if let staged { (count, headBytes) = (staged.count, staged.head) } else {
            // The header (tens of bytes, into an empty pipe) goes in whole; the payload after it as far as fits.
            headBytes = head.isEmpty ? 0 : try pipe.writeEnd.write(head)
            let payloadBytes = headBytes < head.count || spliced.count == 0
                ? 0 : try move(from: FileDescriptor(rawValue: spliced.source), to: pipe.writeEnd, owed: spliced.count)
            count = headBytes + payloadBytes
            guard count > 0 else { return 0 }
        }
        switch try pipe.readEnd.splice(to: fd, count: count) {
        case .processed(let n) where n > 0:
            staged = n < count ? (spliced.source, count - n, max(0, headBytes - n)) : nil
            return n
        case .wouldBlock:
            staged = (spliced.source, count, headBytes)
            return 0
        case .processed:
            throw SystemError("splice", errno: EIO, "\(label): \(count) staged bytes could not be moved")
        }
    }

    /// Moves up to `owed` bytes of a payload from its pipe; 0 when `target` has no room. The pipe must hold at
    /// least `owed`: if it runs dry, the frame can never be completed and the stream is broken.
    private func move(from source: FileDescriptor, to target: FileDescriptor, owed: Int) throws(SystemError) -> Int {
        switch try source.splice(to: target, count: owed) {
        case .processed(let n) where n > 0:
            return n
        case .wouldBlock where try source.bytesAvailable() > 0:
            return 0
        case .processed, .wouldBlock:
            throw SystemError("splice", errno: EPIPE,
                              "\(label): \(source) ran dry with \(owed) bytes of a frame's payload still owed")
        }
    }

    private func stagingPipe() throws(SystemError) -> Pipe {
        if let staging { return staging }
        let pipe = try Pipe(nonBlocking: true)
        // Best effort: a smaller pipe only means a payload is staged in more pieces.
        _ = try? pipe.writeEnd.setPipeCapacity(Self.stagingCapacity)
        staging = pipe
        return pipe
    }

    private func writeSegments(_ buffers: [UnsafeRawBufferPointer]) throws(SystemError) -> Int {
        guard let piece = options.writePiece else { return try fd.writev(buffers) }
        let pieces = Self.split(buffers.map { UnsafeMutableRawBufferPointer(mutating: $0) }, piece: piece)
        return try fd.writev(pieces.map { UnsafeRawBufferPointer($0) })
    }

    /// `buffers` cut into pieces of at most `piece` bytes (at most ``maxPieces`` of them, in order).
    static func split(_ buffers: [UnsafeMutableRawBufferPointer], piece: Int?) -> [UnsafeMutableRawBufferPointer] {
        guard let piece, piece > 0, buffers.contains(where: { $0.count > piece }) else { return buffers }
        var pieces: [UnsafeMutableRawBufferPointer] = []
        for buffer in buffers {
            var start = 0
            repeat {
                guard pieces.count < maxPieces else { return pieces }
                let end = min(start + piece, buffer.count)
                pieces.append(UnsafeMutableRawBufferPointer(rebasing: buffer[start..<end]))
                start = end
            } while start < buffer.count
        }
        return pieces
    }

    /// Most iovecs one split read or write offers (1 MiB of 4 KiB pieces; IOV_MAX is 1024).
    static let maxPieces = 256

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        loop.post { [self] in
            flushScheduled = false
            flush()
        }
    }

    private func handle(_ events: EventLoop.Events) {
        if isClosing && (events.contains(.hangup) || events.contains(.error)) { close(); return }
        if events.contains(.writable) || events.contains(.error) { flush() }
        if events.contains(.readable) || events.contains(.hangup) || events.contains(.error) { readAvailable() }
    }

    /// Reads up to the budget; exposed for drivers that feed the connection without running the loop (fuzz).
    public func readAvailable() {
        for _ in 0..<options.readBudget {
            guard !isClosed, !isClosing else { return }
            // One readv: the rest of a large payload goes straight into its frame's array, what follows into
            // the read buffer (only the bytes that come with a frame's head are copied in user space).
            let result: Int?
            var offered = 0
            do {
                result = try decoder.receive(spare: readBuffer.space) { (buffers) throws(SystemError) -> Int? in
                    let pieces = Self.split(buffers, piece: options.readPiece)
                    offered = pieces.reduce(0) { $0 + $1.count }
                    return try receive(pieces)
                }
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
            deliverFrames()
            if n < offered { break }
        }
    }

    /// One `readv`, or with ``Options/descriptorLimit`` one `recvmsg` that also takes passed descriptors.
    private func receive(_ buffers: [UnsafeMutableRawBufferPointer]) throws(SystemError) -> Int? {
        guard options.descriptorLimit > 0 else { return try fd.readv(buffers) }
        let before = receivedDescriptors.count
        let result = try UnixSocket.receive(fd, into: buffers, descriptors: &receivedDescriptors)
        guard result.descriptors > 0 else { return result.count }
        // A truncated set is useless (which descriptor was meant is unknown): all of it goes. Beyond the limit,
        // the newest go: the oldest are the ones frames already on their way will claim.
        let keep = result.truncated ? before : min(receivedDescriptors.count, max(before, options.descriptorLimit))
        for descriptor in receivedDescriptors[keep...] { descriptor.close() }
        receivedDescriptors.removeSubrange(keep...)
        return result.count
    }

    /// The oldest descriptor the peer passed and nobody claimed yet (the caller owns it now), or nil.
    ///
    /// Linux hands a passed descriptor over with the read that reaches the first byte it was sent with, and ends
    /// that read right after the bytes of its message, so it is here by the time the frame sent with it is
    /// delivered, possibly after frames sent before it. A frame that asks for one claims the oldest.
    /// Unclaimed ones are closed with the connection.
    public func takeDescriptor() -> FileDescriptor? {
        receivedDescriptors.isEmpty ? nil : receivedDescriptors.removeFirst()
    }

    /// Descriptors received and not claimed yet.
    public var unclaimedDescriptors: Int { receivedDescriptors.count }

    private func deliverFrames() {
        while !isClosed, !isClosing, let item = decoder.next() {
            switch item {
            case .frame(let frame):
                switch state?.receive(frame.message) ?? .deliver {
                case .deliver:
                    onFrame(frame)
                case .refuse(let error):
                    send(.error(error))
                    onRefused(frame.message, error)
                case .refuseAndClose(let error):
                    send(.error(error))
                    onRefused(frame.message, error)
                    closeWhenFlushed()
                }
            case .invalid(let error), .oversized(let error):
                send(.error(error.errorMessage))
                onProtocolError(error)
            }
        }
    }

    private func flush() {
        guard !isClosed else { return }
        let before = outbound.byteCount
        do {
            try drainQueue()
        } catch {
            close(error: error)
            return
        }
        let spliced = outbound.takeFinishedSplices()
        defer { for source in spliced where !isClosed { onSpliced(FileDescriptor(rawValue: source)) } }
        if isClosing && outbound.isEmpty { close(); return }
        // A peer that never reads while making us answer (pings, bad frames) must not grow this queue forever.
        if outbound.byteCount > options.maxQueuedBytes {
            close(error: SystemError("write", errno: ENOBUFS,
                                     "\(label) peer is not reading (\(outbound.byteCount) bytes queued)"))
            return
        }
        var interest: EventLoop.Interest = isClosing ? [] : .read
        if !outbound.isEmpty { interest.insert(.write) }
        if interest != armed {
            do { try loop.modify(fd, interest: interest) } catch {
                close(error: error)
                return
            }
            armed = interest
        }
        if let threshold = options.drainedThreshold, before >= threshold, outbound.byteCount < threshold {
            onDrained()
        }
    }
}
