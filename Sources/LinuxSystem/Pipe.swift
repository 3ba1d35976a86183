import CLinux
import Glibc

/// A pipe created with `pipe2(O_CLOEXEC)`.
public struct Pipe: Sendable {
    public let readEnd: FileDescriptor
    public let writeEnd: FileDescriptor

    /// Creates a pipe; both ends close-on-exec (the spawn path dup2s the child's end onto 0/1/2).
    public init(nonBlocking: Bool = false) throws(SystemError) {
        var fds: [Int32] = [-1, -1]
        let rc = fds.withUnsafeMutableBufferPointer { clinux_pipe($0.baseAddress, nonBlocking ? 1 : 0) }
        guard rc == 0 else { throw SystemError("pipe", errno: -rc) }
        readEnd = FileDescriptor(rawValue: fds[0])
        writeEnd = FileDescriptor(rawValue: fds[1])
    }

    /// Closes both ends.
    public func close() {
        readEnd.close()
        writeEnd.close()
    }
}
