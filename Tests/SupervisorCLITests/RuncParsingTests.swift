import Glibc
import OCIRuntime
import Testing
import VsockProtocol

@testable import SupervisorCLI

/// The pure parts of runc's command line: global flags, signal names, log lines, the direct-form rule, status
/// computation, durations, update payloads, the ready pipe's report.
@Suite struct RuncParsingTests {
    @Test func globalFlagsBothSpellingsRepeatedLastWins() throws {
        let (options, rest) = try GlobalOptions.parse([
            "--debug", "--log-format=text", "--log-format", "json", "--log", "/var/tmp/a.log", "--root=/r1", "--root", "/r2",
            "--systemd-cgroup", "--rootless=false", "--config", "/etc/x.json", "create", "--bundle", "b", "c1",
        ])
        #expect(options.root == "/r2")
        #expect(options.log == "/var/tmp/a.log")
        #expect(options.logFormat == .json)
        #expect(options.debug && options.systemdCgroup && options.any)
        #expect(options.config == "/etc/x.json")
        #expect(rest == ["create", "--bundle", "b", "c1"])
        let (plain, words) = try GlobalOptions.parse(["state", "c1"])
        #expect(plain.root == "/run/fc-supervisor" && !plain.any && plain.log == nil && plain.logFormat == .text)
        #expect(words == ["state", "c1"])
        // urfave/cli takes runc's long flags with one dash too.
        #expect(try GlobalOptions.parse(["-root", "/r3", "list"]).0.root == "/r3")
        #expect(try GlobalOptions.parse(["--version"]).0.version)
        #expect(try GlobalOptions.parse(["-v"]).0.version)
    }

    @Test func globalFlagErrorsAreRuncs() {
        func failure(_ arguments: [String]) -> String? {
            do { _ = try GlobalOptions.parse(arguments) } catch { return error.message }
            return nil
        }
        #expect(failure(["--log-format", "xml", "list"]) == "invalid log-format: xml")
        #expect(failure(["--log-format=yaml", "list"]) == "invalid log-format: yaml")
        #expect(failure(["--rootless=true", "list"])?.contains("--rootless=true is not supported") == true)
        #expect(failure(["--rootless", "list"])?.contains("not supported") == true)
        #expect(failure(["--rootless=false", "list"]) == nil)
        #expect(failure(["--root"]) == "flag needs an argument: --root")
        #expect(failure(["--bogus", "list"]) == "flag provided but not defined: -bogus")
        #expect(failure(["--root", "/", "list"]) == "option --root argument must not be \"/\"")
        #expect(failure(["--debug=maybe", "list"])?.hasPrefix("invalid boolean value") == true)
    }

    @Test func childArgumentsRoundTrip() throws {
        let (options, _) = try GlobalOptions.parse(["--root", "/r", "--log", "/l", "--log-format", "json", "--debug", "--systemd-cgroup", "x"])
        var expected = options
        expected.any = true
        #expect(try GlobalOptions.parse(options.arguments + ["x"]).0 == expected)
    }

    @Test func signalNamesAsRuncParsesThem() {
        #expect(SignalNames.number("9") == SIGKILL)
        #expect(SignalNames.number("KILL") == SIGKILL)
        #expect(SignalNames.number("SIGKILL") == SIGKILL)
        #expect(SignalNames.number("sigterm") == SIGTERM)
        #expect(SignalNames.number("hup") == SIGHUP)
        #expect(SignalNames.number("FOO") == nil)
        #expect(SignalNames.number("0") == nil)
        #expect(SignalNames.number("65") == nil)
        #expect(!SignalNames.forwarded.contains(SIGKILL) && !SignalNames.forwarded.contains(SIGCHLD))
        #expect(!SignalNames.forwarded.contains(SIGWINCH) && !SignalNames.forwarded.contains(SIGURG))
        #expect(SignalNames.forwarded.contains(SIGTERM) && SignalNames.forwarded.contains(SIGUSR1) && SignalNames.forwarded.contains(SIGQUIT))
    }

    @Test func logLinesAreLogrus() {
        let time = Timestamp(nanosecondsSinceEpoch: 1_764_486_300_123_456_789)
        #expect(RuntimeLog.line(level: "error", message: "container does not exist", time: time, format: .json)
            == #"{"level":"error","msg":"container does not exist","time":"2025-11-30T07:05:00Z"}"#)
        #expect(RuntimeLog.line(level: "error", message: #"exec: "x" <a&b>"#, time: time, format: .json)
            == #"{"level":"error","msg":"exec: \"x\" \u003ca\u0026b\u003e","time":"2025-11-30T07:05:00Z"}"#)
        #expect(RuntimeLog.line(level: "error", message: "container does not exist", time: time, format: .text)
            == #"time="2025-11-30T07:05:00Z" level=error msg="container does not exist""#)
        #expect(RuntimeLog.line(level: "info", message: "plain", time: time, format: .text)
            == #"time="2025-11-30T07:05:00Z" level=info msg=plain"#)
        #expect(RuntimeLog.textValue("a\"b\n") == #""a\"b\n""#)
    }

    @Test func logFileGetsOneJSONLinePerError() throws {
        let path = "/var/tmp/fc-cli-log-\(getpid()).json"
        defer { unlink(path) }
        let log = RuntimeLog(path: path, format: .json)
        log.error("first")
        log.error("second")
        let lines = (try String(contentsOfFile: path, encoding: .utf8)).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix(#"{"level":"error","msg":""#) && $0.hasSuffix(#"Z"}"#) })
        #expect(lines.last?.contains(#""msg":"second""#) == true)
    }

    @Test func directFormRule() {
        #expect(DirectForm.matches(["run", "--vmm", "qemu", "--id", "x", "--kernel", "k", "--", "true"]))
        #expect(DirectForm.matches(["run", "--no-such-flag"]))
        #expect(DirectForm.matches(["exec", "--state-dir", "/s", "vm", "--", "echo"]))
        #expect(DirectForm.matches(["exec", "vm", "--", "echo"]))
        #expect(DirectForm.matches(["state", "--state-dir", "/s", "vm"]))
        #expect(DirectForm.matches(["kill", "--state-dir", "/s", "vm", "TERM"]))
        #expect(DirectForm.matches(["stop", "vm"]))
        #expect(!DirectForm.matches(["run", "--bundle", "b", "-d", "--pid-file", "p", "c1"]))
        #expect(!DirectForm.matches(["run", "c1"]))
        #expect(!DirectForm.matches(["exec", "--process", "p.json", "--detach", "c1"]))
        #expect(!DirectForm.matches(["exec", "c1", "sh", "-c", "exit 3"]))
        #expect(!DirectForm.matches(["exec", "--pid-file", "p", "c1", "--", "true"]))
        #expect(!DirectForm.matches(["state", "c1"]))
        #expect(!DirectForm.matches(["kill", "c1", "9"]))
        #expect(!DirectForm.matches(["list", "--format", "json"]))
        #expect(!DirectForm.matches(["create", "--state-dir", "x", "c1"]))
    }

    @Test func statusFromSupervisorStateAndLiveness() {
        func status(_ phase: String?, alive: Bool = true, workload: Int32? = nil, exit: Int32? = nil) -> ContainerState.Status {
            Containers.status(recorded: 10, alive: alive,
                              snapshot: phase.map { SupervisorSnapshot(state: $0, workloadPid: workload, exitCode: exit) })
        }
        #expect(status(nil) == .created)
        #expect(status("booting") == .created)
        #expect(status("created") == .created)
        #expect(status("running", workload: 7) == .running)
        #expect(status("running") == .running)
        #expect(status("paused", workload: 7) == .paused)
        #expect(status("running", workload: 7, exit: 0) == .stopped)
        #expect(status("stopping", workload: 7) == .stopped)
        #expect(status("stopped") == .stopped)
        #expect(status("running", alive: false, workload: 7) == .stopped)
        #expect(Containers.status(recorded: 0, alive: true, snapshot: nil) == .stopped)
    }

    @Test func goDurations() {
        #expect(GoDuration.parse("5s") == .seconds(5))
        #expect(GoDuration.parse("500ms") == .milliseconds(500))
        #expect(GoDuration.parse("1m30s") == .seconds(90))
        #expect(GoDuration.parse("1.5s") == .milliseconds(1500))
        #expect(GoDuration.parse("0") == .zero)
        #expect(GoDuration.parse("5") == nil)
        #expect(GoDuration.parse("5x") == nil)
        #expect(GoDuration.parse("") == nil)
    }

    @Test func updateNamesWhatItWouldChange() throws {
        #expect(try ResourceUpdate.settings(Array(#"{"cpu":{"quota":100000,"period":100000},"memory":{"limit":null}}"#.utf8))
            == ["cpu.period", "cpu.quota"])
        #expect(try ResourceUpdate.settings(Array(#"{"cpu":{},"devices":[],"memory":{"limit":null}}"#.utf8)) == [])
        #expect(throws: RuntimeFailure.self) { try ResourceUpdate.settings(Array("[1]".utf8)) }
        #expect(throws: RuntimeFailure.self) { try ResourceUpdate.settings(Array("{".utf8)) }
    }

    @Test func consoleSocketRulesAreRuncs() {
        func failure(_ terminal: Bool, _ socket: String?, _ detached: Bool) -> String? {
            do { try ConsoleSocket.check(terminal: terminal, consoleSocket: socket, detached: detached) } catch { return error.message }
            return nil
        }
        #expect(failure(true, nil, true) == "cannot allocate tty if runc will detach without setting console socket")
        #expect(failure(false, "/s", true) == "cannot use console socket if runc will not detach or allocate tty")
        #expect(failure(true, "/s", false) == "cannot use console socket if runc will not detach or allocate tty")
        #expect(failure(true, "/s", true) == nil)
        #expect(failure(true, nil, false) == nil)
        #expect(failure(false, nil, true) == nil)
    }

    @Test func startFailuresReadLikeGosExec() {
        func text(_ argv0: String, _ errno: Int32, _ stage: SpawnStage = .exec) -> String {
            RuncExecCommand.startFailure(argv0: argv0, StartFailed(session: 1, errno: errno, stage: stage, message: "\(argv0): failed"))
        }
        #expect(text("nosuchcmd", ENOENT) == #"exec: "nosuchcmd": executable file not found in $PATH"#)
        #expect(text("/x/y", ENOENT) == #"exec: "/x/y": stat /x/y: no such file or directory"#)
        #expect(text("/etc", EACCES) == #"exec: "/etc": permission denied"#)
        #expect(text("sh", ENOENT, .cwd) == #"exec: "sh": sh: failed"#)
    }

    @Test func readyReports() {
        #expect(ReadyPipe.parse("ok\n") == .ready)
        #expect(ReadyPipe.parse("error: bad thing\n") == .failed("bad thing"))
        #expect(ReadyPipe.parse("") == .died)
        #expect(ReadyPipe.parse("garbage") == .died)
    }

    @Test func listTableIsRuncsTabwriter() {
        let state = ContainerState(id: "c1", pid: 42, status: .running, bundle: "/b", rootfs: "/b/rootfs",
                                   created: Timestamp(nanosecondsSinceEpoch: 1_764_486_300_000_000_000), owner: "root")
        #expect(RuncListCommand.table([]) == "ID          PID         STATUS      BUNDLE      CREATED     OWNER\n")
        #expect(RuncListCommand.table([state]) == """
            ID          PID         STATUS      BUNDLE      CREATED                OWNER
            c1          42          running     /b          2025-11-30T07:05:00Z   root

            """)
    }
}
