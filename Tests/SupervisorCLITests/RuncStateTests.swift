import Glibc
import LinuxSystem
import OCIRuntime
import Testing
import TestSupport

@testable import SupervisorCLI

/// `fc-supervisor` (the built binary) over prepared state directories, no VM: `state`, `list`, `ps`, and the
/// texts and exit codes of `start`, `kill`, `delete`, `exec`, `pause`, `events` on unknown and stopped ids.
@Suite(.serialized) struct RuncStateTests {
    let binary: String
    let temp: TemporaryDirectory
    var root: String { temp.path + "/root" }

    init() throws {
        binary = try BuiltProduct.path("fc-supervisor")
        temp = try TemporaryDirectory(prefix: "/var/tmp/fc-cli-state-")
    }

    private func run(_ arguments: [String]) throws -> Completed {
        try runToEnd(binary, ["--root", root] + arguments, timeout: 30)
    }

    /// A container record (and, optionally, the supervisor's state.json) for `id`, its pid `pid`.
    private func prepare(_ id: String, pid: Int32, phase: String? = nil, workloadPid: Int32? = nil) throws {
        let state = ContainerState(id: id, pid: pid, status: .created, bundle: temp.path + "/bundle", rootfs: temp.path + "/bundle/rootfs",
                                   created: Timestamp(nanosecondsSinceEpoch: 1_764_486_300_000_000_001), annotations: ["a": "b"])
        try ContainerStore(root: root).create(state)
        if let phase {
            let workload = workloadPid.map { ",\"workload_pid\":\($0)" } ?? ""
            try Files.writeAtomically(root + "/\(id)/state.json", "{\"state\":\"\(phase)\",\"id\":\"\(id)\",\"supervisor_pid\":\(pid)\(workload)}")
        }
    }

    /// A live process whose argv names `id`, as the supervisor's does.
    private func standIn(_ id: String) throws -> ChildUnderTest {
        try ChildUnderTest("/bin/sh", ["-c", "sleep 60", id])
    }

    @Test func stateReflectsTheSupervisor() throws {
        defer { temp.remove() }
        let live = try standIn("live")
        let created = try standIn("held")
        try prepare("live", pid: live.pid, phase: "running", workloadPid: 5)
        try prepare("held", pid: created.pid, phase: "created")
        try prepare("dead", pid: 999_999, phase: "running", workloadPid: 5)

        let running = try run(["state", "live"])
        #expect(running.status == 0)
        #expect(running.stderr.isEmpty)
        #expect(running.stdout.hasPrefix("{\n  \"ociVersion\": \"1.0.2\",\n  \"id\": \"live\",\n  \"pid\": \(live.pid),\n  \"status\": \"running\""))
        #expect(!running.stdout.hasSuffix("\n"))
        #expect(try run(["state", "held"]).stdout.contains("\"status\": \"created\""))
        let dead = try run(["state", "dead"])
        #expect(dead.stdout.contains("\"pid\": 0,\n  \"status\": \"stopped\""))
        // The supervisor recorded how the workload ended: `state` prints all of it.
        try Files.writeAtomically(root + "/dead/state.json", """
            {"state":"stopped","supervisor_pid":999999,"exit_code":143,
             "exit":{"signal":15,"core_dumped":false,"oom_killed":false,"output_truncated":true}}
            """)
        let ended = try run(["state", "dead"]).stdout
        #expect(ended.hasSuffix("""
            "exit": {"status":143,"signal":15,"coreDumped":false,"oomKilled":false,"outputTruncated":true}
            }
            """), "\(ended)")

        let list = try run(["list", "--format", "json"])
        #expect(list.status == 0)
        #expect(list.stdout.hasPrefix("[{\"ociVersion\":\"1.0.2\",\"id\":\"dead\",\"pid\":0,\"status\":\"stopped\""))
        #expect(list.stdout.contains("\"id\":\"held\",\"pid\":\(created.pid),\"status\":\"created\""))
        #expect(list.stdout.contains("\"owner\":\"root\"}]\n"))
        #expect(try run(["list", "-q"]).stdout == "dead\nheld\nlive\n")
        #expect(try run(["list"]).stdout.hasPrefix("ID          PID         STATUS"))

        #expect(try run(["ps", "--format", "json", "live"]).stdout == "[\(live.pid)]\n")
        #expect(try run(["ps", "--format", "json", "dead"]).stdout == "null\n")
        let table = try run(["ps", "live"])
        #expect(table.stdout.split(separator: "\n").count == 2)
        #expect(table.stdout.contains(" \(live.pid) "))

        // Refusals on states that do not allow the command.
        let start = try run(["start", "live"])
        #expect(start.status == 1 && start.stderr.contains("cannot start an already running container"))
        let startStopped = try run(["start", "dead"])
        #expect(startStopped.status == 1 && startStopped.stderr.contains("cannot start a container that has stopped"))
        let notStopped = try run(["delete", "live"])
        #expect(notStopped.status == 1 && notStopped.stderr.contains("cannot delete container live that is not stopped: running"))
        let resume = try run(["resume", "live"])
        #expect(resume.status == 1 && resume.stderr.contains("container not paused"))
        let pause = try run(["pause", "dead"])
        #expect(pause.status == 1 && pause.stderr.contains("container not running"))
        let events = try run(["events", "--stats", "dead"])
        #expect(events.status == 1 && events.stderr.contains("container with id dead is not running"))
        let exec = try run(["exec", "dead", "true"])
        #expect(exec.status == 255 && exec.stderr.contains("exec failed: cannot exec in a stopped container"))
        let update = try run(["update", "--resources", "-", "dead"])
        #expect(update.status == 1 && update.stderr.contains("container not running"))

        // kill: a stopped container, then --all on it, then an unknown signal.
        let kill = try run(["kill", "dead", "9"])
        #expect(kill.status == 1 && kill.stderr.contains("container not running"))
        #expect(try run(["kill", "--all", "dead", "9"]).status == 0)
        let badSignal = try run(["kill", "live", "FOO"])
        #expect(badSignal.status == 1 && badSignal.stderr.contains(#"msg="unknown signal \"FOO\"""#))
        // kill of a created container signals the supervisor itself.
        #expect(try run(["kill", "held", "KILL"]).status == 0)
        #expect(created.wait(timeout: 10) == .signaled(SIGKILL, coreDumped: false))

        // delete: stopped → gone, and a second delete is "does not exist"; --force is idempotent.
        #expect(try run(["delete", "dead"]).status == 0)
        #expect(!Files.exists(root + "/dead"))
        let again = try run(["delete", "dead"])
        #expect(again.status == 1 && again.stderr.contains("container does not exist"))
        #expect(try run(["delete", "--force", "dead"]).status == 0)
        live.kill()
        _ = live.wait(timeout: 10)
    }

    @Test func unknownIDs() throws {
        defer { temp.remove() }
        for command in [["state", "nope"], ["kill", "nope"], ["delete", "nope"], ["pause", "nope"], ["resume", "nope"],
                        ["start", "nope"], ["ps", "nope"], ["events", "nope"], ["update", "nope"]] {
            let r = try run(command)
            #expect(r.status == 1, "\(command)")
            #expect(r.stderr.hasSuffix("level=error msg=\"container does not exist\"\n"), "\(command): \(r.stderr)")
        }
        let exec = try run(["exec", "nope", "true"])
        #expect(exec.status == 255 && exec.stderr.contains("exec failed: container does not exist"))
        #expect(try run(["delete", "--force", "nope"]).status == 0)
        let badID = try run(["state", "a/b"])
        #expect(badID.status == 1 && badID.stderr.contains("invalid container ID format"))
        #expect(try run(["list", "--format", "json"]).stdout == "null\n")
        // With --log, the log gets one JSON line and stderr the bare message.
        let log = temp.path + "/log.json"
        let logged = try runToEnd(binary, ["--root", root, "--log", log, "--log-format", "json", "state", "nope"])
        #expect(logged.stderr == "container does not exist\n")
        #expect(FileContents.text(log)?.hasPrefix(#"{"level":"error","msg":"container does not exist","time":""#) == true)
        #expect(FileContents.text(log)?.split(separator: "\n").count == 1)
    }

    @Test func aCreateStillUnderWayIsSeenThroughTheSupervisorsPid() throws {
        defer { temp.remove() }
        let supervisor = try standIn("booting")
        try prepare("booting", pid: 0)
        try Files.writeAtomically(root + "/booting/state.json", "{\"state\":\"booting\",\"supervisor_pid\":\(supervisor.pid)}")
        #expect(try run(["state", "booting"]).stdout.contains("\"pid\": \(supervisor.pid),\n  \"status\": \"created\""))
        try prepare("nothing", pid: 0)
        let kill = try run(["kill", "nothing", "KILL"])
        #expect(kill.status == 1 && kill.stderr.contains("container not running"))
        #expect(try run(["delete", "--force", "booting"]).status == 0)
        #expect(supervisor.wait(timeout: 15).signaled)
        #expect(!Files.exists(root + "/booting"))
    }

    @Test func directFormVMsKeepTheirCommandsWithoutStateDir() throws {
        defer { temp.remove() }
        try Files.makeDirectories(root + "/vm1")
        try Files.writeAtomically(root + "/vm1/state.json", "{}")
        try prepare("c1", pid: 999_999)
        #expect(DirectForm.matches(["kill", "vm1", "TERM"], root: root))
        #expect(DirectForm.matches(["state", "vm1"], root: root))
        #expect(!DirectForm.matches(["kill", "c1", "TERM"], root: root))
        #expect(!DirectForm.matches(["state", "c1"], root: root))
        #expect(!DirectForm.matches(["kill", "../x"], root: root))
    }

    @Test func versionFeaturesAndWhatDoesNotExist() throws {
        defer { temp.remove() }
        let version = try run(["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("fc-supervisor version "))
        let features = try run(["features"])
        #expect(features.status == 0 && features.stdout.contains("\"ociVersionMin\": \"1.0.0\""))
        // podman probes `checkpoint --help`: exit 0 means "supported", which it now is (CheckpointCommands.swift).
        let checkpoint = try run(["checkpoint", "--help"])
        #expect(checkpoint.status == 0 && checkpoint.stdout.contains("--image-path") && checkpoint.stdout.contains("--leave-running"))
        let restore = try run(["restore", "--help"])
        #expect(restore.status == 0 && restore.stdout.contains("--image-path") && restore.stdout.contains("--bundle"))
        // go-runc's and podman's CRIU flags parse: the refusal is about the (missing) container, not the flags.
        let flags = try run(["checkpoint", "--image-path", temp.file("ck"), "--work-path", temp.file("w"), "--leave-running",
                             "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks", "--manage-cgroups-mode", "soft",
                             "--empty-ns", "network", "--auto-dedup", "nosuch"])
        #expect(flags.status == 1 && flags.stderr.contains("container does not exist"), "\(flags)")
        let preDump = try run(["checkpoint", "--pre-dump", "--image-path", temp.file("ck"), "nosuch"])
        #expect(preDump.status == 1 && preDump.stderr.contains("incremental checkpoints"), "\(preDump)")
        let restoreFlags = try run(["restore", "-d", "--image-path", temp.file("none"), "--work-path", temp.file("w"),
                                    "--pid-file", temp.file("p"), "--bundle", temp.file("b"), "--no-subreaper", "--tcp-established",
                                    "--ext-unix-sk", "--shell-job", "--file-locks", "--lsm-profile", "x", "r1"])
        #expect(restoreFlags.status == 1 && restoreFlags.stderr.contains("fc-supervisor restore failed"), "\(restoreFlags)")
        let usage = try run(["kill"])
        #expect(usage.status == 1 && usage.stdout.hasPrefix("Incorrect Usage."))
    }
}
