/// One frame on the wire:
///
///     +----------------+-----------------+----------------------+------------------+
///     | header length  | payload length  | header: UTF-8 JSON   | payload: raw     |
///     | UInt32 BE      | UInt32 BE       | object with "type"   | bytes (stdio)    |
///     +----------------+-----------------+----------------------+------------------+
///
/// Only `stdin`, `stdout` and `stderr` carry a payload; stdio bytes are never put inside JSON.
public struct Frame: Sendable, Equatable {
    public var message: Message
    public var payload: [UInt8]

    public init(_ message: Message, payload: [UInt8] = []) {
        self.message = message
        self.payload = payload
    }

    /// The frame's bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        Frame.encode(message, payload: payload, into: &out)
        return out
    }

    /// Appends one frame to `buffer`. The payload is copied from any contiguous byte source.
    public static func encode(_ message: Message, payload: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        encodeHead(message, payloadCount: payload.count, into: &buffer, reserving: payload.count)
        buffer.append(contentsOf: payload)
    }

    /// Appends a frame's prefix and header (everything before the payload) to `buffer`, reserving room for
    /// `reserving` more bytes. With the payload written after it (or beside it, as a second `writev` segment),
    /// this is the frame.
    public static func encodeHead(_ message: Message, payloadCount: Int, into buffer: inout [UInt8], reserving: Int = 0) {
        let header = message.encodedHeader()
        buffer.reserveCapacity(buffer.count + ProtocolConstants.prefixBytes + header.count + reserving)
        appendBigEndian(UInt32(header.count), to: &buffer)
        appendBigEndian(UInt32(payloadCount), to: &buffer)
        buffer.append(contentsOf: header)
    }

    /// Appends one frame to `buffer`.
    public static func encode(_ message: Message, payload: [UInt8] = [], into buffer: inout [UInt8]) {
        payload.withUnsafeBytes { encode(message, payload: $0, into: &buffer) }
    }

    static func appendBigEndian(_ value: UInt32, to buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 24))
        buffer.append(UInt8(truncatingIfNeeded: value >> 16))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }
}
