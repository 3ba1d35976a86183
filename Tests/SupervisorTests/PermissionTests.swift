import Foundation
import Glibc
import TestSupport
import Testing

@testable import Supervisor
@testable import VMM

/// Issue 7 (6): who may talk to the supervisor, and what the jailer is told.
@Suite(.serialized) struct PermissionTests {
    @Test func controlSocketIsOwnerOnlyAndRefusesAnotherUID() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "perm", command: ["sh", "-c", "echo ready; exec sleep 100000"]),
                                    environment: h.environment())
        defer { vm.kill(SIGTERM); vm.wait() }
        #expect(vm.waitForOutput("ready\n"), "\(vm.stderr)")
        let socket = h.stateRoot + "/perm/control.sock"
        var st = stat()
        #expect(lstat(socket, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600, "mode \(String(st.st_mode & 0o777, radix: 8))")
        #expect(st.st_uid == getuid())
        // The same exec as nobody: the 0600 mode refuses the connect (and SO_PEERCRED would refuse it too).
        let asNobody = try runToEnd("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", h.supervisor,
                                                         "exec", "--state-dir", h.stateRoot, "perm", "--", "echo", "pwned"],
                                    environment: h.environment())
        #expect(asNobody.status != 0 && !asNobody.stdout.contains("pwned"), "\(asNobody)")
        // A python client as nobody gets EACCES at connect.
        let probe = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ntry:\n s.connect(sys.argv[1]); print('connected')\nexcept PermissionError: print('refused')"
        let py = try runToEnd("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env", "python3", "-c", probe, socket],
                              environment: h.environment())
        #expect(py.stdout == "refused\n", "\(py)")
        // Root still gets in.
        let asRoot = try runToEnd(h.supervisor, ["exec", "--state-dir", h.stateRoot, "perm", "--", "echo", "ok"], environment: h.environment())
        #expect(asRoot.stdout == "ok\n", "\(asRoot)")
    }

    @Test func jailerCommandLineDropsToTheGivenUIDAndGID() {
        var config = VMConfig(id: "jailed-1")
        config.firecrackerBin = "/usr/bin/firecracker"
        var jailer = JailerConfig(jailerBin: "/usr/bin/jailer", uid: 12345, gid: 23456)
        jailer.chrootBase = "/srv/jail"
        jailer.netns = "/var/run/netns/n1"
        config.jailer = jailer
        let layout = FirecrackerLayout(config: config, paths: StateDirectory(root: "/run/fcs", id: "jailed-1").vmm)
        let (program, args) = layout.commandLine()
        #expect(program == "/usr/bin/jailer")
        func value(_ flag: String) -> String? { args.firstIndex(of: flag).map { args[$0 + 1] } }
        #expect(value("--uid") == "12345")
        #expect(value("--gid") == "23456")
        #expect(value("--exec-file") == "/usr/bin/firecracker")
        #expect(value("--chroot-base-dir") == "/srv/jail")
        #expect(value("--netns") == "/var/run/netns/n1")
        // Everything after `--` goes to Firecracker, jail-relative, and --id only once (jailer passes it on).
        let split = args.firstIndex(of: "--") ?? args.count
        #expect(Array(args[(split + 1)...]) == ["--api-sock", "/api.sock"])
        #expect(args.filter { $0 == "--id" }.count == 1)
        #expect(layout.apiSocketOnHost == "/srv/jail/firecracker/jailed-1/root/api.sock")

        config.jailer = nil
        let direct = FirecrackerLayout(config: config, paths: StateDirectory(root: "/run/fcs", id: "jailed-1").vmm).commandLine()
        #expect(direct.0 == "/usr/bin/firecracker" && !direct.1.contains("--uid"))
    }
}
