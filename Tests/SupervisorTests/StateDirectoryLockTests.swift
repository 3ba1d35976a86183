import Glibc
import LinuxSystem
@testable import Supervisor
import Testing

/// The pid-file lock that keeps a second supervisor off a VM (flock is per open file, so one process can play
/// both supervisors).
@Suite struct StateDirectoryLockTests {
    @Test func secondOwnerIsRefusedWithTheFirstOwnersPid() throws {
        let root = try Files.makeTemporaryDirectory(prefix: "/tmp/state-lock-")
        defer { try? Files.removeTree(root) }
        let state = StateDirectory(root: root + "/runs", id: "vm1")
        let first = try state.acquire(stateRoot: root + "/runs", id: "vm1")
        #expect(Files.readValue(state.pidFile) == "\(getpid())")
        do {
            let second = try state.acquire(stateRoot: root + "/runs", id: "vm1")
            second.close()
            Issue.record("a second owner got the lock")
        } catch {
            #expect(error.message.contains("already supervised (pid \(getpid()))"), "\(error.message)")
        }
        first.close()
        let again = try state.acquire(stateRoot: root + "/runs", id: "vm1")
        again.close()
    }
}
