import Glibc

/// Terminal attributes: raw mode and window size.
public enum Terminal {
    /// A window size in character cells.
    public struct Size: Sendable, Equatable {
        public var rows: UInt16
        public var cols: UInt16
        public init(rows: UInt16, cols: UInt16) { self.rows = rows; self.cols = cols }
    }

    /// Whether `fd` is a terminal.
    public static func isTerminal(_ fd: FileDescriptor) -> Bool { isatty(fd.rawValue) == 1 }

    /// The window size (TIOCGWINSZ); nil when `fd` is not a terminal or the size is unset (0x0).
    public static func size(of fd: FileDescriptor) -> Size? {
        var size = winsize()
        guard ioctl(fd.rawValue, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return Size(rows: size.ws_row, cols: size.ws_col)
    }

    /// Sets the window size (TIOCSWINSZ; the kernel sends SIGWINCH to the foreground group).
    public static func setSize(_ size: Size, of fd: FileDescriptor) throws(SystemError) {
        try PseudoTerminal.setWindowSize(fd, rows: size.rows, cols: size.cols)
    }

    /// Puts `fd` in raw mode for good (a serial line that carries binary frames: no echo, no line discipline).
    public static func makeRaw(_ fd: FileDescriptor) throws(SystemError) {
        var attributes = termios()
        _ = try retryingOnEINTR("tcgetattr", fd.description) { tcgetattr(fd.rawValue, &attributes) }
        cfmakeraw(&attributes)
        _ = try retryingOnEINTR("tcsetattr", fd.description) { tcsetattr(fd.rawValue, TCSANOW, &attributes) }
    }

    /// Raw mode that can be undone: keys (Ctrl-C included) reach the program as bytes until ``restore()``.
    public final class RawMode {
        private let fd: FileDescriptor
        private var saved = termios()
        private var active = false

        public init(fd: FileDescriptor) { self.fd = fd }

        /// Whether raw mode is on (and ``restore()`` has something to undo).
        public var isActive: Bool { active }

        /// Saves the current attributes and switches to raw mode. A second call does nothing.
        public func enter() throws(SystemError) {
            guard !active else { return }
            _ = try retryingOnEINTR("tcgetattr", fd.description) { tcgetattr(fd.rawValue, &saved) }
            var raw = saved
            cfmakeraw(&raw)
            _ = try retryingOnEINTR("tcsetattr", fd.description) { tcsetattr(fd.rawValue, TCSANOW, &raw) }
            active = true
        }

        /// Restores the attributes saved by ``enter()`` (best effort: this runs on the way out).
        public func restore() {
            guard active else { return }
            _ = try? retryingOnEINTR("tcsetattr", fd.description) { tcsetattr(fd.rawValue, TCSANOW, &saved) }
            active = false
        }
    }
}
