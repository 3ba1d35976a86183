import Glibc

extension SystemControl {
    /// The real uid of this process (`getuid`).
    public static var userID: UInt32 { getuid() }

    /// Runs `body` with the file-creation mask set to `mask` (`umask`), then restores the previous mask.
    /// Used to create sockets and files with a restrictive mode from the start, with no window in which they
    /// exist with a wider one. The mask is process-wide: call it from the one thread that creates files.
    public static func withFileCreationMask<T, E: Error>(_ mask: mode_t, _ body: () throws(E) -> T) throws(E) -> T {
        let old = umask(mask)
        defer { umask(old) }
        return try body()
    }
}
