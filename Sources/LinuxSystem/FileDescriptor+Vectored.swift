import Glibc

extension FileDescriptor {
    /// Most buffers one `writev(2)` takes (IOV_MAX on Linux).
    public static let maxVectoredBuffers = 1024

    /// Writes the buffers in order with one `writev(2)` (at most ``maxVectoredBuffers`` of them are offered).
    /// Returns the count written, which may end inside any buffer; 0 when a non-blocking descriptor would block
    /// (EAGAIN). EINTR is retried. A closed reader is an error (`EPIPE`; SIGPIPE must be ignored).
    public func writev(_ buffers: [UnsafeRawBufferPointer]) throws(SystemError) -> Int {
        let count = min(buffers.count, Self.maxVectoredBuffers)
        guard count > 0 else { return 0 }
        if count == 1 { return try write(buffers[0]) }
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { (vectors) throws(SystemError) -> Int in
            var total = 0
            for i in 0..<count {
                vectors[i] = iovec(iov_base: UnsafeMutableRawPointer(mutating: buffers[i].baseAddress), iov_len: buffers[i].count)
                total += buffers[i].count
            }
            guard total > 0 else { return 0 }
            while true {
                let n = Glibc.writev(rawValue, vectors.baseAddress, Int32(count))
                if n >= 0 { return n }
                switch Glibc.errno {
                case EINTR: continue
                case EAGAIN: return 0
                default: throw SystemError.last("writev", description)
                }
            }
        }
    }

    /// Reads into the buffers in order with one `readv(2)` (at most ``maxVectoredBuffers`` of them are offered).
    /// Returns the count read (0 = end of file), or nil when a non-blocking descriptor has nothing to read
    /// (EAGAIN). EINTR is retried. Lets a reader put a large payload straight where it will stay and catch what
    /// follows it in a scratch buffer, with one system call.
    public func readv(_ buffers: [UnsafeMutableRawBufferPointer]) throws(SystemError) -> Int? {
        let count = min(buffers.count, Self.maxVectoredBuffers)
        guard count > 0 else { return 0 }
        if count == 1 { return try read(into: buffers[0]) }
        return try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { (vectors) throws(SystemError) -> Int? in
            for i in 0..<count { vectors[i] = iovec(iov_base: buffers[i].baseAddress, iov_len: buffers[i].count) }
            while true {
                let n = Glibc.readv(rawValue, vectors.baseAddress, Int32(count))
                if n >= 0 { return n }
                switch Glibc.errno {
                case EINTR: continue
                case EAGAIN: return nil
                default: throw SystemError.last("readv", description)
                }
            }
        }
    }
}
