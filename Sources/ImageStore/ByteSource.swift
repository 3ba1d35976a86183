import CZlib
import CZstd
import Glibc
import LinuxSystem

/// A pull-based byte stream: the layer pipeline is blob file → decompressor → hasher (the diff id) → tar reader.
public protocol ByteSource: AnyObject {
    /// Up to `buffer.count` bytes; 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int
}

/// A file's bytes (a blob in the cache).
public final class FileSource: ByteSource {
    private let fd: FileDescriptor
    private let path: String

    public init(path: String) throws(ImageError) {
        do { fd = try FileDescriptor.open(path, flags: O_RDONLY | O_CLOEXEC) } catch {
            throw ImageError(.io, "cannot open \(path): \(error.reason)", cause: error)
        }
        self.path = path
    }

    deinit { fd.close() }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        do { return try fd.read(into: buffer) ?? 0 } catch {
            throw ImageError(.io, "cannot read \(path): \(error.reason)", cause: error)
        }
    }
}

/// Input buffering shared by the two decompressors.
public class CompressedInput {
    let upstream: any ByteSource
    let input: UnsafeMutableRawBufferPointer
    var available = 0
    var offset = 0
    var upstreamEnded = false

    init(_ upstream: any ByteSource) {
        self.upstream = upstream
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 16)
    }

    deinit { input.deallocate() }

    /// Refills the input when it is used up; false at the end of the upstream.
    func refill() throws(ImageError) -> Bool {
        if offset < available { return true }
        guard !upstreamEnded else { return false }
        available = try upstream.read(into: input)
        offset = 0
        if available == 0 { upstreamEnded = true }
        return available > 0
    }
}

/// gzip (RFC 1952, several members in a row as pigz writes them) through zlib's inflate.
public final class GzipSource: CompressedInput, ByteSource {
    private var stream = z_stream()
    private var finished = false
    private let what: String

    public init(_ upstream: any ByteSource, what: String) throws(ImageError) {
        self.what = what
        super.init(upstream)
        // 15 + 16: gzip wrapper only, the 32 KiB window.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImageError(.io, "zlib: inflateInit2 failed")
        }
    }

    deinit { inflateEnd(&stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        while true {
            if finished {
                // After a member's end, only another member may follow.
                guard try refill() else { return 0 }
                inflateReset(&stream)
                finished = false
            }
            guard try refill() else {
                throw ImageError(.corruptLayer, "\(what): gzip stream ends early (truncated)")
            }
            stream.next_in = input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self)
            stream.avail_in = UInt32(available - offset)
            stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = UInt32(buffer.count)
            let status = inflate(&stream, Z_NO_FLUSH)
            offset = available - Int(stream.avail_in)
            let produced = buffer.count - Int(stream.avail_out)
            switch status {
            case Z_STREAM_END: finished = true
            case Z_OK, Z_BUF_ERROR: break
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw ImageError(.corruptLayer, "\(what): not valid gzip data (\(reason))")
            }
            if produced > 0 { return produced }
        }
    }
}

/// zstd (RFC 8878) through libzstd's streaming decoder.
public final class ZstdSource: CompressedInput, ByteSource {
    private let stream: OpaquePointer
    /// Whether the last frame was complete (ZSTD_decompressStream returned 0).
    private var frameDone = true
    private let what: String

    public init(_ upstream: any ByteSource, what: String) throws(ImageError) {
        guard let stream = ZSTD_createDStream() else { throw ImageError(.io, "zstd: cannot create a decoder") }
        self.stream = stream
        self.what = what
        super.init(upstream)
    }

    deinit { ZSTD_freeDStream(stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        while true {
            guard try refill() else {
                if frameDone { return 0 }
                throw ImageError(.corruptLayer, "\(what): zstd stream ends early (truncated)")
            }
            var source = ZSTD_inBuffer(src: input.baseAddress!.advanced(by: offset), size: available - offset, pos: 0)
            var target = ZSTD_outBuffer(dst: buffer.baseAddress!, size: buffer.count, pos: 0)
            let result = ZSTD_decompressStream(stream, &target, &source)
            if ZSTD_isError(result) != 0 {
                throw ImageError(.corruptLayer, "\(what): not valid zstd data (\(String(cString: ZSTD_getErrorName(result))))")
            }
            offset += source.pos
            frameDone = result == 0
            if target.pos > 0 { return target.pos }
        }
    }
}

/// Passes bytes through and hashes them (a layer's diff id) and counts them.
public final class HashingSource: ByteSource {
    private let upstream: any ByteSource
    public let hasher = SHA256Hasher()
    public private(set) var count: Int64 = 0

    public init(_ upstream: any ByteSource) { self.upstream = upstream }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        let n = try upstream.read(into: buffer)
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        count += Int64(n)
        return n
    }
}

/// The decompressor for a layer, chosen by its media type.
public func decompressed(_ source: any ByteSource, compression: Compression, what: String) throws(ImageError) -> any ByteSource {
    switch compression {
    case .none: return source
    case .gzip: return try GzipSource(source, what: what)
    case .zstd: return try ZstdSource(source, what: what)
    }
}
