import LinuxSystem

/// One archive member, with the pax and GNU long-name extensions already applied.
public struct TarEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case regular, hardLink, symlink, characterDevice, blockDevice, directory, fifo }
    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var modifiedNanoseconds: Int64
    public var linkName: String
    public var deviceMajor: UInt32
    public var deviceMinor: UInt32
}

/// Reads a tar stream (POSIX ustar and pax, GNU `L`/`K` long names, old v7 headers) entry by entry.
/// A header whose checksum is wrong, a number that is not octal or base-256, a member type it cannot
/// represent (sparse files, volume labels) and a stream that ends inside a member are errors.
public final class TarReader {
    private let source: any ByteSource
    private let what: String
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// Bytes of the current member's data (plus padding) not yet consumed.
    private var pendingData: Int64 = 0
    private var globalPax: [String: String] = [:]
    private var ended = false

    public init(_ source: any ByteSource, what: String) {
        self.source = source
        self.what = what
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit { buffer.deallocate() }

    private func corrupt(_ why: String) -> ImageError { ImageError(.corruptLayer, "\(what): \(why)") }

    /// The next entry, or nil after the end-of-archive marker. Data the caller did not read is skipped.
    public func next() throws(ImageError) -> TarEntry? {
        guard !ended else { return nil }
        try skipData()
        var pax: [String: String] = [:]
        var longName: String?
        var longLink: String?
        while true {
            let header = try readBlock()
            guard let header else { throw corrupt("tar stream ends without its end-of-archive marker (truncated)") }
            if header.allSatisfy({ $0 == 0 }) { ended = true; return nil }
            try verifyChecksum(header)
            let type = header[156]
            let size = try number(header, 124, 12)
            guard size >= 0 else { throw corrupt("negative member size") }
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                guard size <= 1 << 20 else { throw corrupt("pax header of \(size) bytes") }
                let records = try parsePax(try readMeta(Int(size)))
                if type == UInt8(ascii: "g") { globalPax.merge(records) { $1 } } else { pax.merge(records) { $1 } }
                continue
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= 64 << 10 else { throw corrupt("GNU long name of \(size) bytes") }
                let text = String(decoding: try readMeta(Int(size)).prefix { $0 != 0 }, as: UTF8.self)
                if type == UInt8(ascii: "L") { longName = text } else { longLink = text }
                continue
            default:
                break
            }
            let fields = globalPax.merging(pax) { $1 }
            var entry = try entryFromHeader(header, type: type, size: size)
            if let name = fields["path"] ?? longName { entry.path = name }
            if let link = fields["linkpath"] ?? longLink { entry.linkName = link }
            if let text = fields["size"] { guard let v = Int64(text), v >= 0 else { throw corrupt("bad pax size") }; entry.size = v }
            if let text = fields["uid"] { guard let v = UInt32(text) else { throw corrupt("bad pax uid") }; entry.uid = v }
            if let text = fields["gid"] { guard let v = UInt32(text) else { throw corrupt("bad pax gid") }; entry.gid = v }
            if let text = fields["mtime"] { entry.modifiedNanoseconds = try paxTime(text) }
            // A regular member's data is handed to the caller and its padding skipped; any other member's
            // data (there should be none) is skipped whole.
            pendingData = entry.kind == .regular ? entry.size : padded(entry.size)
            currentPadding = entry.kind == .regular ? padded(entry.size) - entry.size : 0
            return entry
        }
    }

    /// Reads the current regular member's data in chunks, handing each to `body`.
    public func readData(_ body: (UnsafeRawBufferPointer) throws(ImageError) -> Void) throws(ImageError) {
        while pendingData > 0 {
            if start == end { try fill() }
            let n = min(end - start, Int(clamping: pendingData))
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start + n)]))
            start += n
            pendingData -= Int64(n)
        }
    }

    /// Reads to the end of the stream (the padding after the end marker): the diff id covers every byte.
    public func drain() throws(ImageError) {
        start = end
        while try source.read(into: buffer) > 0 {}
    }

    private func padded(_ n: Int64) -> Int64 { (n + 511) / 512 * 512 }

    private func skipData() throws(ImageError) {
        // Member data is padded to 512 bytes; regular members track the padding separately.
        try readData { _ throws(ImageError) in }
        let remainder = Int(currentPadding)
        currentPadding = 0
        if remainder > 0 { try consume(remainder) }
    }

    private var currentPadding: Int64 = 0

    private func entryFromHeader(_ h: [UInt8], type: UInt8, size: Int64) throws(ImageError) -> TarEntry {
        let kind: TarEntry.Kind
        switch type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .regular
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .symlink
        case UInt8(ascii: "3"): kind = .characterDevice
        case UInt8(ascii: "4"): kind = .blockDevice
        case UInt8(ascii: "5"): kind = .directory
        case UInt8(ascii: "6"): kind = .fifo
        default: throw ImageError(.unsupported, "\(what): unsupported tar member type \"\(Character(UnicodeScalar(type)))\"")
        }
        var name = string(h, 0, 100)
        let isUstar = h[257..<262].elementsEqual("ustar".utf8)
        // POSIX ustar ("ustar\0") has a name prefix at 345; old GNU ("ustar  ") keeps times there instead.
        if isUstar && h[262] == 0 { let prefix = string(h, 345, 155); if !prefix.isEmpty { name = prefix + "/" + name } }
        let seconds = try number(h, 136, 12)
        let entry = TarEntry(path: name, kind: kind, mode: UInt32(truncatingIfNeeded: try number(h, 100, 8)) & 0o7777,
                             uid: UInt32(truncatingIfNeeded: try number(h, 108, 8)),
                             gid: UInt32(truncatingIfNeeded: try number(h, 116, 8)), size: size,
                             modifiedNanoseconds: seconds &* 1_000_000_000, linkName: string(h, 157, 100),
                             deviceMajor: isUstar ? UInt32(truncatingIfNeeded: try number(h, 329, 8)) : 0,
                             deviceMinor: isUstar ? UInt32(truncatingIfNeeded: try number(h, 337, 8)) : 0)
        return entry
    }

    private func string(_ h: [UInt8], _ offset: Int, _ length: Int) -> String {
        String(decoding: h[offset..<(offset + length)].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// An octal field (NUL/space terminated) or GNU base-256 (first byte's high bit set).
    private func number(_ h: [UInt8], _ offset: Int, _ length: Int) throws(ImageError) -> Int64 {
        let field = h[offset..<(offset + length)]
        if let first = field.first, first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x3f)
            for byte in field.dropFirst() {
                guard value < Int64.max >> 8 else { throw corrupt("base-256 number too large") }
                value = value << 8 | Int64(byte)
            }
            return first & 0x40 != 0 ? -value : value
        }
        var value: Int64 = 0
        var seen = false
        for byte in field {
            if byte == 0 || byte == 0x20 { if seen { break } else { continue } }
            guard byte >= 0x30 && byte <= 0x37, value < Int64.max >> 3 else { throw corrupt("bad octal number in a tar header") }
            value = value << 3 | Int64(byte - 0x30)
            seen = true
        }
        return value
    }

    private func verifyChecksum(_ h: [UInt8]) throws(ImageError) {
        let stored = try number(h, 148, 8)
        var sum: Int64 = 0
        for (i, byte) in h.enumerated() { sum += (i >= 148 && i < 156) ? 0x20 : Int64(byte) }
        guard sum == stored else { throw corrupt("bad tar header checksum (not a tar stream?)") }
    }

    private func parsePax(_ bytes: [UInt8]) throws(ImageError) -> [String: String] {
        var result: [String: String] = [:]
        var index = 0
        while index < bytes.count {
            guard let space = bytes[index...].firstIndex(of: 0x20),
                  let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0,
                  index + length <= bytes.count, bytes[index + length - 1] == 0x0a,
                  let equals = bytes[(space + 1)..<(index + length)].firstIndex(of: 0x3d) else {
                throw corrupt("bad pax record")
            }
            let key = String(decoding: bytes[(space + 1)..<equals], as: UTF8.self)
            result[key] = String(decoding: bytes[(equals + 1)..<(index + length - 1)], as: UTF8.self)
            index += length
        }
        return result
    }

    private func paxTime(_ text: String) throws(ImageError) -> Int64 {
        let parts = text.split(separator: ".", maxSplits: 1)
        guard let first = parts.first, let seconds = Int64(first) else { throw corrupt("bad pax mtime") }
        var nanos: Int64 = 0
        if parts.count == 2 {
            let digits = String(parts[1].prefix(9)).padding(toLength: 9, withPad: "0", startingAt: 0)
            guard let n = Int64(digits) else { throw corrupt("bad pax mtime") }
            nanos = n
        }
        return seconds &* 1_000_000_000 &+ (seconds < 0 ? -nanos : nanos)
    }

    /// A metadata member's data (pax records, a long name), with its padding consumed.
    private func readMeta(_ size: Int) throws(ImageError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        while bytes.count < size {
            if start == end { try fill() }
            let n = min(end - start, size - bytes.count)
            bytes.append(contentsOf: buffer[start..<(start + n)])
            start += n
        }
        try consume(Int(padded(Int64(size))) - size)
        return bytes
    }

    /// The next 512-byte block; nil at a clean end of stream.
    private func readBlock() throws(ImageError) -> [UInt8]? {
        if start == end {
            end = try source.read(into: buffer)
            start = 0
            if end == 0 { return nil }
        }
        var block: [UInt8] = []
        block.reserveCapacity(512)
        while block.count < 512 {
            if start == end { try fill() }
            let n = min(end - start, 512 - block.count)
            block.append(contentsOf: buffer[start..<(start + n)])
            start += n
        }
        return block
    }

    private func consume(_ count: Int) throws(ImageError) {
        var left = count
        while left > 0 {
            if start == end { try fill() }
            let n = min(end - start, left)
            start += n
            left -= n
        }
    }

    private func fill() throws(ImageError) {
        end = try source.read(into: buffer)
        start = 0
        guard end > 0 else { throw corrupt("tar stream ends inside a member (truncated)") }
    }
}
