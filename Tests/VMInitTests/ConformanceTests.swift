import LinuxSystem
import TestSupport
import Testing

/// PROTOCOL.md alone is enough: `Protocol/conformance.py`, a client written from the document only (Python,
/// stdlib), checks every connection rule and a representative of every message and error code against the
/// real vm-init as PID 1, and ends by shutting it down.
extension NamespaceTests {
    @Suite struct Conformance {
        @Test func independentPythonClientMeetsNoSurprise() throws {
            try withGuest { guest in
                try guest.connect().close()  // vm-init listens
                let client = try ChildUnderTest("/usr/bin/env",
                                                ["python3", RepoPath.file("Protocol/conformance.py"), "guest", guest.socketPath],
                                                mergeStandardError: true)
                let status = client.wait(timeout: 240)
                let report = client.stdout
                #expect(status == .exited(0), "conformance.py:\n\(report)\nvm-init log:\n\(guest.log())")
                #expect(report.contains(", 0 failed"), "\(report)")
                #expect(!report.contains("FAIL"), "\(report)")
                // Its last step is `shutdown`: vm-init powers off, which ends the PID namespace.
                #expect(guest.waitForExit(timeout: 30) != nil, "vm-init still running after shutdown:\n\(guest.log())")
            }
        }
    }
}
