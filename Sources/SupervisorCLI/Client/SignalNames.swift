import Glibc
import Supervisor

/// Signal names as `kill -l` spells them.
public enum SignalNames {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT,
        "BUS": SIGBUS, "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2,
        "PIPE": SIGPIPE, "ALRM": SIGALRM, "TERM": SIGTERM, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP,
        "TSTP": SIGTSTP, "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ,
        "VTALRM": SIGVTALRM, "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
        "IOT": SIGABRT, "POLL": SIGIO, "STKFLT": 16,
    ]

    /// What a foreground runc call relays to the process it stands in for: every catchable signal except
    /// SIGCHLD, SIGWINCH and SIGURG (runc signals.go).
    static let forwarded: [Int32] = (1...31).filter {
        ![SIGKILL, SIGSTOP, SIGCHLD, SIGWINCH, SIGURG].contains($0)
    }

    /// `9`, `KILL`, `SIGKILL` or `sigkill` → 9 (runc's `kill` parsing); nil when unknown or out of range.
    public static func number(_ text: String) -> Int32? {
        if let n = Int32(text) { return (1...64).contains(n) ? n : nil }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        return table[name]
    }
}

extension SupervisorState {
    /// Pretty JSON for `state --json`.
    public var jsonText: String { String(decoding: JSONBody.encode(self, pretty: true), as: UTF8.self) }
}
