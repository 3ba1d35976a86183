import Glibc
import LinuxSystem
import TestSupport
import Testing

/// PROTOCOL.md §11 alone is enough: `Protocol/conformance.py control`, written from the document only, drives
/// a real `fc-supervisor run` (Firecracker simulator, real vm-init) through control.sock: hello roles, bad
/// frames, exec sessions, signal to session 0 (the workload), then `shutdown`.
@Suite(.serialized) struct ControlConformanceTests {
    @Test func independentPythonClientMeetsNoSurprise() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        // The workload reports SIGUSR1 (the client's signal to session 0) and ends with 42 on the SIGTERM of
        // the client's `shutdown`, so `run` exits with 42.
        let workload = #"trap "echo got-usr1" USR1; trap "echo got-term; exit 42" TERM; while :; do sleep 0.1; done"#
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "conf", command: ["sh", "-c", workload]),
                                    environment: h.environment())
        defer { if vm.isRunning { vm.kill(); _ = vm.wait(timeout: 10) } }
        let socket = h.stateRoot + "/conf/control.sock"
        // The socket exists once the supervisor serves it; the workload runs once vm-init said hello.
        let up = Deadline(seconds: 60).poll(every: 0.05) { access(socket, F_OK) == 0 || !vm.isRunning }
        #expect(up && vm.isRunning, "no control.sock: \(vm.stderr)")

        let client = try ChildUnderTest("/usr/bin/env",
                                        ["python3", RepoPath.file("Protocol/conformance.py"), "control", socket],
                                        mergeStandardError: true)
        let status = client.wait(timeout: 240)
        let report = client.stdout
        #expect(status == .exited(0), "conformance.py:\n\(report)\nsupervisor:\n\(vm.stderr)")
        #expect(report.contains(", 0 failed") && !report.contains("FAIL"), "\(report)")

        #expect(vm.wait(timeout: 60) == .exited(42), "\(vm.stderr)")
        #expect(vm.stdout.contains("got-usr1"), "signal to session 0 not delivered: \(vm.stdout)")
        #expect(vm.stdout.contains("got-term"), "shutdown did not SIGTERM the workload: \(vm.stdout)")
    }
}
