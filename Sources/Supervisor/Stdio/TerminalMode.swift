import Glibc
import LinuxSystem
import VsockProtocol

/// The local terminal: raw mode for `-t` sessions (restored on exit) and its size.
final class TerminalMode {
    private let fd: FileDescriptor
    private var saved = termios()
    private var active = false

    init(fd: FileDescriptor) { self.fd = fd }

    /// Whether `fd` is a terminal.
    static func isTerminal(_ fd: FileDescriptor) -> Bool { isatty(fd.rawValue) == 1 }

    /// The terminal's size, nil when `fd` is not a terminal.
    static func currentSize(of fd: FileDescriptor) -> TerminalSize? {
        var size = winsize()
        guard ioctl(fd.rawValue, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return nil }
        return TerminalSize(rows: size.ws_row, cols: size.ws_col)
    }

    /// Switches the terminal to raw mode: keys (Ctrl-C included) go to the remote pty as bytes.
    func enterRawMode() {
        guard !active, tcgetattr(fd.rawValue, &saved) == 0 else { return }
        var raw = saved
        cfmakeraw(&raw)
        if tcsetattr(fd.rawValue, TCSANOW, &raw) == 0 { active = true }
    }

    /// Restores the mode saved by ``enterRawMode()``.
    func restore() {
        guard active else { return }
        _ = tcsetattr(fd.rawValue, TCSANOW, &saved)
        active = false
    }
}
