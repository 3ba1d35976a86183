@testable import ImageStore

/// Builds tar streams byte by byte (ustar headers, pax records), so the reader's tests control every field.
struct TarBuilder {
    var bytes: [UInt8] = []

    mutating func add(_ path: String, type: Character = "0", mode: Int = 0o644, uid: Int = 0, gid: Int = 0, mtime: Int = 1_700_000_000,
                      data: [UInt8] = [], link: String = "", major: Int = 0, minor: Int = 0, corruptChecksum: Bool = false) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ offset: Int, _ length: Int) {
            for (i, b) in text.utf8.prefix(length).enumerated() { h[offset + i] = b }
        }
        func octal(_ value: Int, _ offset: Int, _ length: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: max(0, length - 1 - digits.count)) + digits, offset, length - 1)
        }
        put(path, 0, 100)
        octal(mode, 100, 8); octal(uid, 108, 8); octal(gid, 116, 8)
        octal(data.count, 124, 12); octal(mtime, 136, 12)
        h[156] = Array(String(type).utf8)[0]
        put(link, 157, 100)
        put("ustar", 257, 6); put("00", 263, 2)
        octal(major, 329, 8); octal(minor, 337, 8)
        for i in 148..<156 { h[i] = 0x20 }
        var sum = h.reduce(0) { $0 + Int($1) }
        if corruptChecksum { sum += 1 }
        octal(sum, 148, 7)
        bytes += h + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// A pax extended header for the next entry.
    mutating func pax(_ records: [(String, String)]) {
        var text: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            var length = body.utf8.count + 1
            while String(length).utf8.count + body.utf8.count != length { length += 1 }
            text += Array("\(length)\(body)".utf8)
        }
        add("PaxHeaders/x", type: "x", data: text)
    }

    mutating func finish() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}

/// A byte array as a stream, in small reads (so the reader's buffering is exercised).
final class ArraySource: ByteSource {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        let n = min(buffer.count, bytes.count - offset, 700)
        for i in 0..<n { buffer[i] = bytes[offset + i] }
        offset += n
        return n
    }
}
