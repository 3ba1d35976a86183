import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
@testable import VMInit

/// ``SessionCgroups/applyLimits(_:)`` on a plain directory laid out as `<base>/fc-sessions`: which files get which
/// values, what is reported as not applied, and how a refused write is named. (The kernel's enforcement is shown
/// in a VM: OCIRuntimeE2ETests and the go-runc `oom` case.)
@Suite struct CgroupLimitTests {
    private func base() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory(prefix: "/var/tmp/vminit-limits-")
        try Files.makeDirectories(dir.path + "/fc-sessions")
        // Empty: the code writes without truncating (a cgroup file takes the whole write as the new value).
        for file in ["memory.max", "pids.max"] { try Files.writeAtomically(dir.path + "/fc-sessions/" + file, "") }
        return dir
    }

    @Test func limitsAreWrittenToTheParentOfEverySession() throws {
        let dir = try base()
        defer { dir.remove() }
        let cgroups = SessionCgroups(base: dir.path, controllers: ["memory", "pids", "cpu"])
        let unapplied = try cgroups.applyLimits(ContainerResources(memoryMax: 64 << 20, pidsMax: 2048))
        #expect(unapplied.isEmpty)
        #expect(try Files.readText(dir.path + "/fc-sessions/memory.max") == "67108864")
        #expect(try Files.readText(dir.path + "/fc-sessions/pids.max") == "2048")
    }

    @Test func anAbsentLimitLeavesItsFileAlone() throws {
        let dir = try base()
        defer { dir.remove() }
        let cgroups = SessionCgroups(base: dir.path, controllers: ["memory", "pids"])
        #expect(try cgroups.applyLimits(ContainerResources(pidsMax: 7)).isEmpty)
        #expect(try Files.readText(dir.path + "/fc-sessions/memory.max") == "")
        #expect(try Files.readText(dir.path + "/fc-sessions/pids.max") == "7")
    }

    @Test func aMissingControllerOrNoCgroupsIsReportedNotApplied() throws {
        let dir = try base()
        defer { dir.remove() }
        let pidsOnly = SessionCgroups(base: dir.path, controllers: ["pids"])
        let unapplied = try pidsOnly.applyLimits(ContainerResources(memoryMax: 1 << 20, pidsMax: 3))
        #expect(unapplied == ["memory.max 1048576 (no memory controller)"])
        #expect(try Files.readText(dir.path + "/fc-sessions/memory.max") == "")
        #expect(try Files.readText(dir.path + "/fc-sessions/pids.max") == "3")
        let none = try SessionCgroups().applyLimits(ContainerResources(memoryMax: 1 << 20, pidsMax: 3))
        #expect(none == ["memory.max 1048576 (no cgroups)", "pids.max 3 (no cgroups)"])
    }

    @Test func aRefusedWriteNamesTheFile() throws {
        let dir = try base()
        defer { dir.remove() }
        // A directory where memory.max should be: open(O_WRONLY) fails with EISDIR, as a kernel refusal would.
        try Files.remove(dir.path + "/fc-sessions/memory.max")
        try Files.makeDirectories(dir.path + "/fc-sessions/memory.max")
        let cgroups = SessionCgroups(base: dir.path, controllers: ["memory", "pids"])
        #expect {
            try cgroups.applyLimits(ContainerResources(memoryMax: 1 << 20))
        } throws: { error in
            guard let limit = error as? SessionCgroups.LimitError else { return false }
            return limit.file == "memory.max" && limit.cause.errno == EISDIR
        }
    }
}
