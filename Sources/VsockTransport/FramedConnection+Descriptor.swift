import LinuxSystem
import VsockProtocol

extension FramedConnection {
    /// Writes `message` now, after everything already queued, with `descriptors` passed (one SCM_RIGHTS message,
    /// in order) on the frame's first byte, so the peer has them by the time it reads the frame (PROTOCOL.md
    /// §11.2–11.3: `exec` with `stdin_descriptor`, `stdout_descriptor`, `stderr_descriptor`). Waits for the socket
    /// as needed, but not past `deadline`.
    ///
    /// For a client before its loop runs (`fc-supervisor exec` at start): it bypasses the outbound queue, which
    /// has no place for a descriptor, by emptying the queue first and writing the frame itself. A throw leaves
    /// the stream in an unknown state (part of a frame may be out): the caller closes the connection.
    public func sendNow(_ message: Message, passing descriptors: [FileDescriptor],
                        until deadline: Clock.Instant) throws(TransportError) {
        guard !isClosed, !isClosing else { throw TransportError(.closed, "send \(message.type): the connection is closed") }
        guard flush(until: deadline) else {
            throw TransportError(.timeout, "send \(message.type): the peer does not read what was queued before it")
        }
        var bytes: [UInt8] = []
        Frame.encode(message, into: &bytes)
        var failure: TransportError?
        bytes.withUnsafeBytes { raw in
            do throws(TransportError) { try Self.write(raw, passing: descriptors, to: fd, until: deadline) } catch {
                failure = TransportError(error.code, "send \(message.type): \(error.message)", cause: error.cause)
            }
        }
        if let failure { throw failure }
    }

    /// `bytes` to `socket`, the first `sendmsg` carrying `descriptors`, the rest plain writes.
    private static func write(_ bytes: UnsafeRawBufferPointer, passing descriptors: [FileDescriptor], to socket: FileDescriptor,
                              until deadline: Clock.Instant) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            var written = 0
            var ready = true
            do throws(SystemError) {
                let result = offset == 0
                    ? try UnixSocket.send(rest, passing: descriptors, over: socket)
                    : try socket.writeSome(rest)
                written = result.value ?? 0
                if written == 0 { ready = try socket.waitWritable(until: deadline) }
            } catch {
                throw TransportError(.system, "write", cause: error)
            }
            guard ready else {
                throw TransportError(.timeout, "the peer does not read (\(offset) of \(bytes.count) bytes written)")
            }
            offset += written
        }
    }
}
