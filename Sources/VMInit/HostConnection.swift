import LinuxSystem
import VsockProtocol

/// The one active host connection: its socket (or serial device), decoder and outbound queue.
final class HostConnection {
    let id: UInt64
    let fd: FileDescriptor
    /// Serial/virtio ports are persistent: reopened rather than accepted.
    let persistent: Bool
    var decoder = FrameDecoder(limits: .default)
    var outbound = OutboundQueue()
    /// The host's announced window (credit per session for our stdout+stderr) and limits.
    var peerWindow: UInt32 = ProtocolConstants.defaultWindow
    var peerLimits: FrameLimits = .default
    var helloReceived = false
    var writeArmed = false
    /// Called whenever a frame is queued, so the owner can schedule a write (a frame queued from a stdin or
    /// timer handler must not wait for the next host frame to be flushed).
    var onQueued: () -> Void = {}

    init(id: UInt64, fd: FileDescriptor, persistent: Bool) {
        self.id = id
        self.fd = fd
        self.persistent = persistent
    }

    /// Queues a message (control lane for everything without payload).
    func send(_ message: Message, payload: [UInt8] = []) {
        outbound.enqueue(message, payload: payload)
        onQueued()
    }

    /// Queues a message behind all bulk data already queued (keeps `exit` after the session's output).
    func sendOrdered(_ message: Message) {
        var bytes: [UInt8] = []
        Frame.encode(message, into: &bytes)
        outbound.enqueue(bytes, control: false)
        onQueued()
    }

    /// Queues a stdio frame.
    func sendData(_ message: Message, payload: UnsafeRawBufferPointer) {
        var bytes: [UInt8] = []
        Frame.encode(message, payload: payload, into: &bytes)
        outbound.enqueue(bytes, control: false)
        onQueued()
    }

    /// Largest payload the host accepts in one frame.
    var maxPayload: Int { Int(min(peerLimits.maxPayloadBytes, UInt32(Session.maxChunk))) }
}
