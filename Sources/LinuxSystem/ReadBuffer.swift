/// A fixed-capacity byte buffer that `read(2)` fills.
///
/// The memory is allocated but never initialised: `read(2)` writes it, and only the bytes a read reported are
/// ever looked at. Pages the kernel never wrote are never touched, so a 256 KiB buffer that only ever sees small
/// frames costs a page or two of RSS, and creating one costs no memset.
public final class ReadBuffer {
    /// The most bytes one read can return.
    public let capacity: Int
    private let storage: UnsafeMutableRawBufferPointer

    public init(capacity: Int) {
        precondition(capacity > 0, "ReadBuffer needs a positive capacity")
        self.capacity = capacity
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    /// One `read(2)` of at most `limit` bytes (the capacity by default) from `fd`. Returns the count read, 0 at
    /// end of file, or nil when a non-blocking descriptor has nothing to read. The bytes are `prefix(count)`.
    public func read(from fd: FileDescriptor, upTo limit: Int? = nil) throws(SystemError) -> Int? {
        let count = max(0, min(limit ?? capacity, capacity))
        return try fd.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[0..<count]))
    }

    /// The whole buffer, for a reader that fills it itself (e.g. as the last buffer of a `readv`).
    public var space: UnsafeMutableRawBufferPointer { storage }

    /// The first `count` bytes, as the last read left them. Valid until the next read or until this buffer is
    /// freed; copy them to keep them.
    public func prefix(_ count: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[0..<min(max(0, count), capacity)])
    }
}
