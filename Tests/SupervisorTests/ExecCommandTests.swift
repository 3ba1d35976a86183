import Foundation
import Glibc
import TestSupport
import Testing

/// `fc-supervisor exec` (and kill/stop/state) into a VM whose workload is running, over the control socket.
@Suite(.serialized) struct ExecCommandTests {
    @Test func execRunsCommandsAndReportsTheirCodes() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "ex")
        defer { vm.kill(SIGTERM); vm.wait() }
        let echo = try h.exec(["ex", "--", "echo", "hello"])
        #expect(echo.status == 0 && echo.stdout == "hello\n", "\(echo)")
        #expect(try h.exec(["ex", "--", "sh", "-c", "exit 7"]).status == 7)
        #expect(try h.exec(["ex", "--", "sh", "-c", "kill -TERM $$"]).status == 143)
        #expect(try h.exec(["ex", "--", "/nonexistent"]).status == 127)
        #expect(try h.exec(["ex", "--", "/etc/passwd"]).status == 126)
        let env = try h.exec(["-e", "GREETING=hi there", "-w", "/proc", "ex", "--", "sh", "-c", "echo \"$GREETING\" $(pwd)"])
        #expect(env.stdout == "hi there /proc\n", "\(env)")
        let state = try runToEnd(h.supervisor, ["state", "--state-dir", h.stateRoot, "--json", "ex"], environment: h.environment())
        #expect(state.stdout.contains("\"running\""), "\(state)")
        #expect(try h.exec(["missing-vm", "--", "true"]).status == 125)
    }

    @Test func stdinPipingAndEOF() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "in")
        defer { vm.kill(SIGTERM); vm.wait() }
        let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let r = try h.exec(["-i", "in", "--", "sh", "-c", "cat | md5sum"], input: payload)
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try runToEnd("/usr/bin/md5sum", [], environment: [:], input: payload).stdout
        #expect(r.stdout == expected)
        let empty = try h.exec(["-i", "in", "--", "wc", "-c"], input: [])
        #expect(empty.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0")
    }

    @Test func fiftyConcurrentSessions() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "many")
        defer { vm.kill(SIGTERM); vm.wait() }
        let processes = try (0..<50).map { n in
            try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, "many", "--", "sh", "-c", "echo session-\(n); exit \(n % 8)"],
                               environment: h.environment())
        }
        for (n, p) in processes.enumerated() {
            let status = p.wait(timeout: 60).shellStatus
            #expect(status == Int32(n % 8), "session \(n): \(p.stderr)")
            #expect(p.stdout == "session-\(n)\n")
        }
    }

    @Test func killAndStopReachTheWorkload() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try ChildUnderTest(h.supervisor, h.runArguments(id: "ctl", command: ["sh", "-c", "trap 'echo usr1' USR1; echo ready; while :; do sleep 0.05; done"]),
                                    environment: h.environment())
        #expect(vm.waitForOutput("ready\n"))
        let k = try runToEnd(h.supervisor, ["kill", "--state-dir", h.stateRoot, "ctl", "USR1"], environment: h.environment())
        #expect(k.status == 0, "\(k.stderr)")
        #expect(vm.waitForOutput("usr1\n"))
        let s = try runToEnd(h.supervisor, ["stop", "--state-dir", h.stateRoot, "ctl"], environment: h.environment())
        #expect(s.status == 0, "\(s.stderr)")
        #expect(vm.wait(timeout: 30).shellStatus == 143)
        let events = try? String(contentsOfFile: h.stateRoot + "/ctl/events.jsonl", encoding: .utf8)
        #expect(events == nil, "the state directory is removed after stop")
    }

    @Test func ttyUnderTmux() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "tty")
        defer { vm.kill(SIGTERM); vm.wait() }
        let session = "fcsup\(getpid())"
        let env = h.environment()
        let command = "\(h.supervisor) exec -it --state-dir \(h.stateRoot) tty -- sh; echo EXIT=$?; sleep 30"
        func tmux(_ args: [String]) throws -> String {
            try runToEnd("/usr/bin/tmux", args, environment: env).stdout
        }
        _ = try tmux(["new-session", "-d", "-s", session, "-x", "100", "-y", "30", command])
        defer { _ = try? tmux(["kill-session", "-t", session]) }
        func screen() -> String { (try? tmux(["capture-pane", "-p", "-t", session])) ?? "" }
        func waitFor(_ text: String) -> Bool {
            Deadline(seconds: 20).poll(every: 0.05) { screen().contains(text) }
        }
        func paneSize() -> String {
            ((try? tmux(["display-message", "-p", "-t", session, "#{pane_height} #{pane_width}"])) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // Type only once the remote shell prompts (keys typed earlier are echoed by the local tty).
        let prompted = { screen().split(separator: "\n").contains { $0.hasPrefix("#") || $0.hasPrefix("$") } }
        _ = Deadline(seconds: 20).poll(every: 0.05, prompted)
        #expect(prompted(), "no prompt; screen:\n\(screen())")
        // The initial size reaches the guest's pty before the shell starts.
        _ = try tmux(["send-keys", "-t", session, "stty size", "Enter"])
        let initial = paneSize()
        #expect(waitFor(initial), "expected \(initial); screen:\n\(screen())")
        // SIGWINCH → resize → the guest's pty.
        _ = try tmux(["resize-window", "-t", session, "-x", "90", "-y", "25"])
        Deadline.sleep(0.5)
        _ = try tmux(["send-keys", "-t", session, "clear; stty size", "Enter"])
        let resized = paneSize()
        #expect(resized != initial)
        #expect(waitFor(resized), "expected \(resized); screen:\n\(screen())")
        // Ctrl-C interrupts the guest's foreground process, not the client.
        _ = try tmux(["send-keys", "-t", session, "sleep 1000", "Enter"])
        Deadline.sleep(0.5)
        _ = try tmux(["send-keys", "-t", session, "C-c"])
        _ = try tmux(["send-keys", "-t", session, "echo alive-$((6*7))", "Enter"])
        #expect(waitFor("alive-42"), "screen:\n\(screen())")
        _ = try tmux(["send-keys", "-t", session, "exit 5", "Enter"])
        #expect(waitFor("EXIT=5"), "screen:\n\(screen())")
    }
}
