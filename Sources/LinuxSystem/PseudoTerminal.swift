import CLinux
import Glibc

/// A pseudo-terminal pair.
public struct PseudoTerminal: Sendable {
    /// The side the supervisor reads and writes (close-on-exec; non-blocking when requested).
    public let master: FileDescriptor
    /// The side the program gets as its controlling terminal (close-on-exec; the spawn path dup2s it).
    public let slave: FileDescriptor

    /// Opens a pair with its initial window size already set (so the program never sees 0x0).
    public static func open(rows: UInt16, cols: UInt16, nonBlockingMaster: Bool = true) throws(SystemError) -> PseudoTerminal {
        var master: Int32 = -1
        var slave: Int32 = -1
        let rc = clinux_openpty(&master, &slave, rows, cols, nonBlockingMaster ? 1 : 0)
        guard rc == 0 else { throw SystemError("openpty", errno: -rc) }
        return PseudoTerminal(master: FileDescriptor(rawValue: master), slave: FileDescriptor(rawValue: slave))
    }

    /// TIOCSWINSZ on any terminal descriptor (the kernel sends SIGWINCH to the foreground group).
    public static func setWindowSize(_ fd: FileDescriptor, rows: UInt16, cols: UInt16) throws(SystemError) {
        let rc = clinux_set_winsize(fd.rawValue, rows, cols)
        guard rc == 0 else { throw SystemError("ioctl", errno: -rc, "TIOCSWINSZ") }
    }
}
