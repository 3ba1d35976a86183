import LinuxSystem
import VsockProtocol

/// runc's console-socket hand-over (contract §4): a pty pair opened on the host at the process's size, its
/// master sent in one message over the caller's AF_UNIX socket (data `/dev/ptmx`, as runc 1.1.5 names it; one
/// SCM_RIGHTS fd), the connection closed. The slave becomes the stdio and controlling terminal of the process
/// standing in for the container's (the supervisor) or the exec session's (the relay), which relays it to the
/// guest's own pty in raw mode, so the guest's output processing is the only one applied.
enum ConsoleSocket {
    /// runc's rules for when a console socket goes with a terminal (utils_linux.go).
    static func check(terminal: Bool, consoleSocket: String?, detached: Bool) throws(RuntimeFailure) {
        if consoleSocket != nil && (!terminal || !detached) {
            throw RuntimeFailure("cannot use console socket if runc will not detach or allocate tty")
        }
        if terminal && detached && consoleSocket == nil {
            throw RuntimeFailure("cannot allocate tty if runc will detach without setting console socket")
        }
    }

    /// Sends the master of a new pty of `size` to `path`; returns the slave (close-on-exec).
    static func handOver(path: String, size: TerminalSize) throws(RuntimeFailure) -> FileDescriptor {
        let pty: PseudoTerminal
        do { pty = try PseudoTerminal.open(rows: size.rows, cols: size.cols, nonBlockingMaster: false) } catch {
            throw RuntimeFailure("cannot open a terminal: \(error)")
        }
        defer { pty.master.close() }
        do {
            let socket = try UnixSocket.connect(path: path)
            defer { socket.close() }
            try UnixSocket.sendDescriptor(pty.master, over: socket, name: "/dev/ptmx")
        } catch {
            pty.slave.close()
            throw RuntimeFailure("cannot send the terminal to console socket \(path): \(error)")
        }
        return pty.slave
    }
}
