import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
@testable import VMInit

extension NamespaceTests {
    /// Per-session cgroups (SessionCgroups.swift): each session's process starts in `<base>/fc-sessions/<id>`, vm-init
    /// itself sits in `<base>/fc-init`, and a leaf goes once its session is reaped. Without a base of its own
    /// (the namespace shares the host's cgroup with other processes) everything works without cgroups.
    @Suite struct Cgroups {
        @Test func sessionRunsInItsLeafAndTheLeafGoesAfterExit() throws {
            let cgroup = try TestCgroup()
            defer { cgroup.remove() }
            try withGuest(cgroup: cgroup.path) { guest in
                let client = try guest.connect()
                let run = try client.run(ExecRequest(session: 7, argv: ["cat", "/proc/self/cgroup"]))
                #expect(run.exit?.status.code == 0)
                #expect(run.stdoutText.split(separator: "\n").contains { $0 == "0::\(cgroup.hierarchyPath)/fc-sessions/7" },
                        "\(run.stdoutText)")
                // vm-init left the base for fc-init, so the base holds no process.
                #expect(cgroup.read("cgroup.procs")?.isEmpty == true)
                #expect(cgroup.read("fc-init/cgroup.procs")?.isEmpty == false)
                // A background grandchild keeps the leaf until it ends too.
                let daemon = try client.run(ExecRequest(session: 8, argv: ["sh", "-c", "sleep 0.5 >/dev/null 2>&1 &"]))
                #expect(daemon.exit?.status.code == 0)
                #expect(Files.isDirectory(cgroup.path + "/fc-sessions/8"))
                let gone = Deadline(seconds: 10)
                while (Files.isDirectory(cgroup.path + "/fc-sessions/7") || Files.isDirectory(cgroup.path + "/fc-sessions/8"))
                    && !gone.hasPassed { Deadline.sleep(0.02) }
                #expect(!Files.isDirectory(cgroup.path + "/fc-sessions/7"))
                #expect(!Files.isDirectory(cgroup.path + "/fc-sessions/8"), "\(guest.log())")
                #expect(guest.log().contains("cgroups: sessions under"))
            }
        }

        @Test func withoutABaseOfItsOwnSessionsRunWithoutCgroups() throws {
            let own = try Files.readText("/proc/self/cgroup").split(separator: "\n").first { $0.hasPrefix("0::") }
            try withGuest { guest in
                let client = try guest.connect()
                let run = try client.run(ExecRequest(session: 1, argv: ["cat", "/proc/self/cgroup"]))
                #expect(run.exit?.status.code == 0)
                // Still in the cgroup the test (and unshare) run in: nothing was moved or created.
                #expect(run.stdoutText.split(separator: "\n").first { $0.hasPrefix("0::") } == own)
                #expect(guest.log().contains("sessions run without a cgroup"))
                let again = try client.run(ExecRequest(session: 2, argv: ["sh", "-c", "echo ok"]))
                #expect(again.stdoutText == "ok\n")
            }
        }
    }
}

/// The cgroup2 hierarchy's own options (nsdelegate, memory_recursiveprot, …) belong to every mount of it. Outside a
/// VM of its own, vm-init binds the host's cgroup2 mount; where it cannot, it mounts cgroup2 with the host's
/// options, so that Linux does not clear them for the whole host.
@Suite struct CgroupHierarchyOptionTests {
    static let line = "41 31 0:38 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "

    @Test func theHierarchysOwnOptionsAreKeptAndTheMountsDropped() {
        let info = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
            + Self.line + "rw,nsdelegate,memory_recursiveprot\n"
        #expect(SessionCgroups.hierarchyOptions(mountInfo: info) == "nsdelegate,memory_recursiveprot")
        #expect(SessionCgroups.hierarchyOptions(mountInfo: Self.line + "rw,favordynmods,memory_localevents")
            == "favordynmods,memory_localevents")
    }

    @Test func noneWhenTheHostSetsNoneOrHasNoCgroup2() {
        #expect(SessionCgroups.hierarchyOptions(mountInfo: Self.line + "rw") == nil)
        #expect(SessionCgroups.hierarchyOptions(mountInfo: "22 1 0:21 / /proc rw - proc proc rw\n") == nil)
        #expect(SessionCgroups.hierarchyOptions(mountInfo: "") == nil)
        // A line cut short before its super options.
        #expect(SessionCgroups.hierarchyOptions(mountInfo: "41 31 0:38 / /sys/fs/cgroup rw - cgroup2") == nil)
    }
}
