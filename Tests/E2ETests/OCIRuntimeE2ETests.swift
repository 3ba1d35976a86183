import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing

/// runc's command line against real VMs (QEMU): bundles whose config.json runs busybox `sh -c …` (in the
/// initramfs while ``ContainerPlan`` gives the VM no container root, in the bundle's busybox rootfs once it does).
///
/// The test process is a child subreaper, as conmon and containerd's shim are: the pid-file process (the
/// container's supervisor, spawned by `create`) and detached exec relays are reparented to it when the call
/// that spawned them exits, so their exit statuses can be checked here.
@Suite(.serialized) struct OCIRuntimeE2ETests {
    let env: E2EEnvironment
    let temp: TemporaryDirectory
    let config: String
    /// Short: `<root>/<id>/vsock.sock_…` must fit a Unix socket path.
    var root: String { temp.path + "/r" }

    init() throws {
        env = try E2EEnvironment.get()
        try SystemControl.setChildSubreaper()
        temp = try TemporaryDirectory(prefix: "/tmp/fcoci-")
        config = temp.file("config.json")
        try Files.writeAtomically(config, """
            {"kernel": "\(env.kernel)", "initramfs": "\(env.initrd)", "vmm": "qemu",
             "defaults": {"vcpus": 1, "memory_mib": 256, "boot_timeout_ms": 30000}}
            """)
    }

    /// A bundle directory running `sh -c script`.
    /// A bundle running `sh -c script`. Its rootfs is busybox-static with the applets the tests use, and it mounts
    /// proc, so it runs the same whether the VM runs the workload in the initramfs or in the bundle's root.
    private func bundle(_ name: String, _ script: String, process extra: [String: Any] = [:],
                        annotations: [String: String] = [:], resources: [String: Any]? = nil) throws -> String {
        let path = temp.file("bundle-" + name)
        for directory in ["bin", "dev", "proc", "sys", "tmp"] { try Files.makeDirectories(path + "/rootfs/" + directory) }
        try Files.copy("/bin/busybox", to: path + "/rootfs/bin/busybox", mode: 0o755)
        for applet in ["sh", "sleep", "echo", "stty", "test", "kill", "pwd", "cat", "true", "tail"] {
            try Files.makeSymlink(path + "/rootfs/bin/" + applet, to: "busybox")
        }
        var process: [String: Any] = ["args": ["sh", "-c", script], "cwd": "/", "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"]]
        process.merge(extra) { $1 }
        var spec: [String: Any] = ["ociVersion": "1.0.2", "process": process, "root": ["path": "rootfs"], "annotations": annotations.merging(["test": name]) { $1 },
                                   "mounts": [["destination": "/proc", "type": "proc", "source": "proc"]]]
        if let resources { spec["linux"] = ["resources": resources] }
        try Files.writeAtomically(path + "/config.json", Array(try JSONSerialization.data(withJSONObject: spec)))
        return path
    }

    private func runtime(_ arguments: [String], input: String? = nil, timeout: Double = 90) throws -> Completed {
        try runToEnd(env.supervisor, ["--root", root, "--config", config] + arguments, input: input.map { Array($0.utf8) }, timeout: timeout)
    }

    /// Waits for `pid` (reparented to this subreaper) and returns how it ended.
    private func reap(_ pid: Int32, timeout: Double = 60) -> ProcessTermination? {
        var result: ProcessTermination?
        _ = Deadline(seconds: timeout).poll(every: 0.05) {
            result = (try? ChildProcess.wait(pid: pid, nonBlocking: true))??.termination
            return result != nil
        }
        return result
    }

    private func status(_ id: String) throws -> String? {
        let state = try runtime(["state", id])
        guard state.status == 0, let object = try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any] else { return nil }
        return object["status"] as? String
    }

    @Test func createStartExecKillDelete() throws {
        defer { temp.remove() }
        let b = try bundle("life", "echo started; exec sleep 1000")
        let pidFile = temp.file("c1.pid")
        let create = try ChildUnderTest(env.supervisor, ["--root", root, "--config", config, "create", "--bundle", b, "--pid-file", pidFile, "c1"])
        let created = create.wait(timeout: 90)
        #expect(created == .exited(0), "\(create.stderr)")
        let pidText = FileContents.text(pidFile) ?? ""
        #expect(!pidText.hasSuffix("\n"))
        let pid = try #require(Int32(pidText))
        #expect(processExists(pid))
        #expect(try status("c1") == "created")
        #expect(!create.stdout.contains("started"))  // held until start

        let start = try runtime(["start", "c1"])
        #expect(start.status == 0, "\(start)")
        #expect(try status("c1") == "running")
        // The workload's stdout is create's, which the supervisor inherited (create itself has exited).
        #expect(Deadline(seconds: 30).poll(every: 0.05) { create.stdout.contains("started\n") })
        let again = try runtime(["start", "c1"])
        #expect(again.status == 1 && again.stderr.contains("cannot start an already running container"))

        let exec = try runtime(["exec", "--pid-file", temp.file("fg.pid"), "c1", "sh", "-c", "echo out; echo err >&2; exit 5"])
        #expect(FileContents.text(temp.file("fg.pid")).flatMap { Int32($0) } != nil)
        #expect(exec.status == 5, "\(exec)")
        #expect(exec.stdout == "out\n" && exec.stderr == "err\n")

        let processFile = temp.file("process.json")
        try Files.writeAtomically(processFile, #"{"args":["sh","-c","echo $FOO; pwd"],"cwd":"/proc","env":["FOO=bar"],"user":{"uid":0,"gid":0}}"#)
        let withProcess = try runtime(["exec", "--process", processFile, "c1"])
        #expect(withProcess.status == 0 && withProcess.stdout == "bar\n/proc\n", "\(withProcess)")

        let missing = try runtime(["exec", "c1", "nosuchcmd"])
        #expect(missing.status == 255 && missing.stderr.contains("exec failed:"), "\(missing)")

        let relayPidFile = temp.file("exec.pid")
        let detached = try runtime(["exec", "--detach", "--pid-file", relayPidFile, "c1", "sh", "-c", "sleep 2; exit 4"])
        #expect(detached.status == 0, "\(detached)")
        let relay = try #require(FileContents.text(relayPidFile).flatMap { Int32($0) })
        #expect(try runtime(["ps", "--format", "json", "c1"]).stdout == "[\(pid),\(relay)]\n")
        #expect(reap(relay) == .exited(4))

        let kill = try runtime(["kill", "c1"])
        #expect(kill.status == 0, "\(kill)")
        #expect(reap(pid) == .exited(143))
        #expect(try status("c1") == "stopped")
        let killStopped = try runtime(["kill", "c1", "KILL"])
        #expect(killStopped.status == 1 && killStopped.stderr.contains("container not running"))

        #expect(try runtime(["delete", "c1"]).status == 0)
        #expect(!Files.exists(root + "/c1"))
        let gone = try runtime(["state", "c1"])
        #expect(gone.status == 1 && gone.stderr.contains("container does not exist"))
    }

    @Test func pauseResumeEventsListAndForcedDeletes() throws {
        defer { temp.remove() }
        let b = try bundle("pause", "exec sleep 1000")
        // A created container is deleted without --force: its supervisor stops, nothing is left.
        #expect(try runtime(["create", "--bundle", b, "--pid-file", temp.file("h.pid"), "held"]).status == 0)
        let held = try #require(FileContents.text(temp.file("h.pid")).flatMap { Int32($0) })
        #expect(try runtime(["delete", "held"]).status == 0)
        #expect(reap(held) != nil && !Files.exists(root + "/held"))

        let log = temp.file("log.json")
        #expect(try runtime(["run", "--detach", "--bundle", b, "--pid-file", temp.file("p.pid"), "p1"]).status == 0)
        let pid = try #require(FileContents.text(temp.file("p.pid")).flatMap { Int32($0) })
        #expect(try status("p1") == "running")
        #expect(try runtime(["pause", "p1"]).status == 0)
        #expect(try status("p1") == "paused")
        let execPaused = try runtime(["--log", log, "--log-format", "json", "exec", "p1", "true"])
        #expect(execPaused.status == 255 && execPaused.stderr == "exec failed: cannot exec in a paused container\n")
        #expect(try runtime(["resume", "p1"]).status == 0)
        #expect(try status("p1") == "running")

        let stats = try runtime(["events", "--stats", "p1"])
        #expect(stats.status == 0, "\(stats)")
        let event = try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any]
        #expect(event?["type"] as? String == "stats" && event?["id"] as? String == "p1")
        let usage = ((event?["data"] as? [String: Any])?["memory"] as? [String: Any])?["usage"] as? [String: Any]
        #expect(((usage?["usage"] as? NSNumber)?.int64Value ?? 0) > 0)

        let list = try runtime(["list", "--format", "json"])
        #expect(list.stdout.contains("\"id\":\"p1\",\"pid\":\(pid),\"status\":\"running\""), "\(list)")
        let refused = try runtime(["delete", "p1"])
        #expect(refused.status == 1 && refused.stderr.contains("cannot delete container p1 that is not stopped: running"))
        #expect(try runtime(["update", "--resources", "-", "p1"], input: #"{"cpu":{},"memory":{"limit":null}}"#).status == 0)
        let update = try runtime(["update", "--resources", "-", "p1"], input: #"{"memory":{"limit":1073741824}}"#)
        #expect(update.status == 1 && update.stderr.contains("cannot update memory.limit of a running VM"), "\(update)")

        let detachedFailure = try runtime(["--log", log, "--log-format", "json", "exec", "--detach", "p1", "nosuchcmd"])
        #expect(detachedFailure.status == 255 && detachedFailure.stderr.split(separator: "\n").count == 1, "\(detachedFailure)")

        #expect(try runtime(["delete", "--force", "p1"]).status == 0)
        #expect(reap(pid) == .exited(137))
        #expect(!Files.exists(root + "/p1"))
        #expect(try runtime(["delete", "--force", "p1"]).status == 0)
        // Each failing call wrote exactly one JSON line to the log.
        #expect(FileContents.text(log)?.split(separator: "\n").count == 2, "\(FileContents.text(log) ?? "")")
    }

    @Test func eventsReportTheWorkloadsOOMKillAndEndWhenItStops() throws {
        defer { temp.remove() }
        // `tail` of an endless line holds it all in memory until the guest's OOM killer ends it.
        let b = try bundle("oom", "exec tail /dev/zero", annotations: ["org.fc-runtime.memory-mib": "128"])
        #expect(try runtime(["create", "--bundle", b, "--pid-file", temp.file("o.pid"), "o1"]).status == 0)
        let pid = try #require(FileContents.text(temp.file("o.pid")).flatMap { Int32($0) })
        let events = try ChildUnderTest(env.supervisor, ["--root", root, "events", "--interval=200ms", "o1"])
        #expect(try runtime(["start", "o1"]).status == 0)
        #expect(reap(pid, timeout: 90) == .exited(137))
        #expect(events.wait(timeout: 30) == .exited(0))
        let lines = events.stdout.split(separator: "\n")
        #expect(lines.contains("{\"type\":\"oom\",\"id\":\"o1\"}"), "\(events.stdout.suffix(600))")
        #expect(lines.contains { $0.hasPrefix("{\"type\":\"stats\",\"id\":\"o1\",\"data\":{\"cpu\":") })
        // The stream ends with the whole exit status, and `state` keeps it.
        let exit = #"{"status":137,"signal":9,"coreDumped":false,"oomKilled":true,"outputTruncated":false}"#
        #expect(lines.last == Substring(#"{"type":"exit","id":"o1","data":"# + exit + "}"), "\(events.stdout.suffix(300))")
        #expect(try runtime(["state", "o1"]).stdout.contains("\"exit\": " + exit))
        let stopped = try runtime(["events", "o1"])
        #expect(stopped.status == 1 && stopped.stderr.contains("container with id o1 is not running"))
        #expect(try runtime(["delete", "o1"]).status == 0)
    }

    @Test func theSpecsPidsLimitBindsTheWholeContainerInsideTheVM() throws {
        defer { temp.remove() }
        // The pids limit is the container cgroup's (the parent of every session's); the memory limit sizes the VM
        // and leaves memory.max alone (ContainerMapping.containerResources says why).
        let b = try bundle("pids", "cat /sys/fs/cgroup/fc-sessions/pids.max /sys/fs/cgroup/fc-sessions/memory.max; exec sleep 1000",
                           resources: ["memory": ["limit": 48 << 20], "pids": ["limit": 4]])
        let create = try ChildUnderTest(env.supervisor, ["--root", root, "--config", config, "run", "--detach", "--bundle", b,
                                                         "--pid-file", temp.file("p.pid"), "p2"])
        #expect(create.wait(timeout: 90) == .exited(0), "\(create.stderr)")
        #expect(Deadline(seconds: 30).poll(every: 0.05) { create.stdout == "4\nmax\n" }, "\(create.stdout)")
        let pid = try #require(FileContents.text(temp.file("p.pid")).flatMap { Int32($0) })
        // An exec counts against the same limit: sleep 1000, sh and two children leave no room for a fifth.
        let fork = try runtime(["exec", "p2", "sh", "-c", "for i in 1 2 3; do sleep 5 & done; wait"])
        #expect(fork.status != 0 && fork.stderr.contains("can't fork"), "\(fork)")
        #expect(try runtime(["exec", "p2", "true"]).status == 0)
        #expect(try runtime(["delete", "--force", "p2"]).status == 0)
        #expect(reap(pid) == .exited(137))
    }

    @Test func runInTheForegroundExitsWithTheWorkloadsStatus() throws {
        defer { temp.remove() }
        for (script, expected) in [("echo zero", Int32(0)), ("echo three; exit 3", 3), ("kill -9 $$", 137)] {
            let id = "run\(expected)"
            let run = try runtime(["run", "--bundle", try bundle(id, script), id])
            #expect(run.status == expected, "\(script): \(run)")
            if expected != 137 { #expect(run.stdout.hasSuffix(expected == 0 ? "zero\n" : "three\n"), "\(run)") }
            // Without --keep, a foreground run leaves nothing.
            #expect(!Files.exists(root + "/" + id))
        }
    }

    @Test func foregroundRunForwardsSignals() throws {
        defer { temp.remove() }
        let b = try bundle("trap", "trap 'echo got-term; exit 7' TERM; echo ready; sleep 100 & wait")
        let run = try ChildUnderTest(env.supervisor, ["--root", root, "--config", config, "run", "--bundle", b, "fg"])
        #expect(Deadline(seconds: 60).poll(every: 0.05) { run.stdout.contains("ready\n") }, "\(run.stderr)")
        run.kill(SIGTERM)
        #expect(run.wait(timeout: 60) == .exited(7))
        #expect(run.stdout.hasSuffix("got-term\n"))
    }

    /// conmon's side of the console socket, in Python (it has `recv_fds`): receive the master, log its name and
    /// everything read from it.
    static let consoleServer = """
        import os, socket, sys, time
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
        print("listening", flush=True)
        c, _ = s.accept()
        msg, fds, _, _ = socket.recv_fds(c, 4096, 1)
        print("name=" + msg.decode() + " fds=" + str(len(fds)), flush=True)
        end = time.time() + 60
        while time.time() < end:
            try: data = os.read(fds[0], 4096)
            except OSError: break
            if not data: break
            sys.stdout.write(data.decode(errors="replace")); sys.stdout.flush()
        """

    @Test func terminalThroughTheConsoleSocket() throws {
        defer { temp.remove() }
        let socket = temp.file("console.sock")
        let server = try ChildUnderTest("/usr/bin/python3", ["-c", Self.consoleServer, socket])
        #expect(server.waitForOutput("listening"))
        let b = try bundle("tty", "test -t 0 && test -t 1 && echo term-ok; stty size; exec sleep 1000",
                           process: ["terminal": true, "consoleSize": ["height": 40, "width": 120]])
        let withoutSocket = try runtime(["create", "--bundle", b, "t0"])
        #expect(withoutSocket.status == 1 && withoutSocket.stderr.contains("cannot allocate tty if runc will detach without setting console socket"))
        let create = try runtime(["create", "--bundle", b, "--console-socket", socket, "--pid-file", temp.file("t.pid"), "t1"])
        #expect(create.status == 0, "\(create)")
        #expect(try runtime(["start", "t1"]).status == 0)
        #expect(Deadline(seconds: 30).poll(every: 0.05) { server.stdout.contains("40 120") }, "\(server.stdout)")
        #expect(server.stdout.contains("name=/dev/ptmx fds=1\n"))
        #expect(server.stdout.contains("term-ok\r\n40 120\r\n"), "\(server.stdout.debugDescription)")
        // A detached exec with a terminal: its relay gets the pty slave, conmon-style.
        let execSocket = temp.file("exec.sock")
        let execServer = try ChildUnderTest("/usr/bin/python3", ["-c", Self.consoleServer, execSocket])
        #expect(execServer.waitForOutput("listening"))
        let exec = try runtime(["exec", "--detach", "--tty", "--console-socket", execSocket, "--pid-file", temp.file("e.pid"),
                                "t1", "sh", "-c", "test -t 1 && echo exec-tty; exit 6"])
        #expect(exec.status == 0, "\(exec)")
        let relay = try #require(FileContents.text(temp.file("e.pid")).flatMap { Int32($0) })
        #expect(reap(relay) == .exited(6))
        #expect(execServer.waitForOutput("exec-tty\r\n"), "\(execServer.stdout.debugDescription)")
        execServer.kill()

        let pid = try #require(FileContents.text(temp.file("t.pid")).flatMap { Int32($0) })
        #expect(try runtime(["delete", "--force", "t1"]).status == 0)
        #expect(reap(pid) == .exited(137))
        server.kill()
    }

    @Test func badBundlesLeaveNothingBehind() throws {
        defer { temp.remove() }
        let empty = temp.file("empty")
        try Files.makeDirectories(empty)
        let broken = try bundle("broken", "true")
        try Files.writeAtomically(broken + "/config.json", "{\"ociVersion\": ")
        let noRoot = try bundle("noroot", "true")
        try Files.removeTree(noRoot + "/rootfs")
        for (path, text) in [(empty, "has no config.json"), (broken, "invalid JSON"), (noRoot, "does not exist")] {
            let create = try runtime(["create", "--bundle", path, "bad"])
            #expect(create.status == 1, "\(create)")
            #expect(create.stderr.split(separator: "\n").count == 1 && create.stderr.contains(text), "\(create.stderr)")
            #expect(Directory.names(root).isEmpty)
        }
    }
}
