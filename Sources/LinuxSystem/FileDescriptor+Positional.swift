import Glibc

/// Positioned I/O and metadata on an open file (pid files, probe logs).
extension FileDescriptor {
    /// What the descriptor refers to (`fstat`): a pipe or socket can be polled, a regular file cannot.
    public func fileType() throws(SystemError) -> FileType {
        var st = stat()
        _ = try retryingOnEINTR("fstat", description) { fstat(rawValue, &st) }
        return FileType(mode: st.st_mode)
    }

    /// One `pread(2)` at `offset` (the file position is unchanged). Returns the count, 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, atOffset offset: Int64) throws(SystemError) -> Int {
        try retryingOnEINTR("pread", description) { pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// Writes all of `bytes` at `offset` with `pwrite(2)` (the file position is unchanged).
    public func writeAll(_ bytes: [UInt8], atOffset offset: Int64) throws(SystemError) {
        var done = 0
        while done < bytes.count {
            let n = try bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in
                    try retryingOnEINTR("pwrite", description) {
                        pwrite(rawValue, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done))
                    }
                }
            }.get()
            done += n
        }
    }

    /// `ftruncate(2)`: sets the file's size.
    public func truncate(to size: Int64) throws(SystemError) {
        _ = try retryingOnEINTR("ftruncate", description) { ftruncate(rawValue, off_t(size)) }
    }
}
