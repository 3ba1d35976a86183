import Glibc
import LinuxSystem
import TestSupport
import Testing

/// PID 1 must never die with a trap or fault (the kernel would panic): vm-init catches them, says so, syncs
/// and resets the VM. In a PID namespace that reset ends the namespace, which is what we observe here.
///
/// Not under a sanitizer (`make check-sanitizers` sets FC_SANITIZER): ASan and TSan install their own handlers
/// for these signals, so the behaviour under test is not vm-init's there.
@Suite(.disabled(if: getenv("FC_SANITIZER") != nil, "the sanitizer runtime owns the fatal signals"))
struct CrashHandlerTests {
    @Test(arguments: [SIGSEGV, SIGILL, SIGABRT])
    func aFatalSignalEndsInADeliberateReset(signal: Int32) throws {
        try withGuest { guest in
            let client = try guest.connect()
            client.close()
            // The only process in the namespace's unshare child is vm-init (PID 1 inside).
            let vmInitPID = try #require(childPIDs(of: guest.namespace.pid).first)
            // Signals from an ancestor namespace reach PID 1 only when it handles them: the crash handler does.
            kill(vmInitPID, signal)
            let ended = guest.waitForExit(timeout: 20)
            #expect(ended != nil, "vm-init did not reset after signal \(signal); log:\n\(guest.log())")
            let log = guest.log()
            #expect(log.contains("fatal: signal \(signal) inside vm-init"), "log:\n\(log)")
        }
    }
}

/// Direct children of `pid` (from /proc/<pid>/task/<pid>/children).
func childPIDs(of pid: Int32) -> [Int32] {
    (FileContents.text("/proc/\(pid)/task/\(pid)/children") ?? "").split(separator: " ").compactMap { Int32($0) }
}
