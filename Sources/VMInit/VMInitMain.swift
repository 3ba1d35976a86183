import CLinux
import Glibc
import LinuxSystem
import VsockProtocol

/// vm-init's entry point: configuration, the mounts the agent needs, the agent loop. Never returns.
public enum VMInitMain {
    public static func run(arguments rawArguments: [String]) -> Never {
        let isInit = getpid() == 1
        var boot = Boot()
        // `start` (first C constructor) → `main` is the static binary's own start-up: libc, the Swift runtime.
        let start = SystemControl.processStartBootTimeMicroseconds
        if start > 0 { boot.mark("start", at: start) }
        boot.mark("main")
        ensureStandardDescriptors()
        SystemControl.ignoreSignal(SIGPIPE)
        var arguments = rawArguments
        if arguments.isEmpty, let cmdline = try? Files.readText("/proc/self/cmdline") {
            arguments = cmdline.split(separator: "\0").map(String.init)
        }
        let flags = Array(arguments.dropFirst())

        var config = Config()
        do {
            config = try Config.load(arguments: isInit ? flags.filter { $0.hasPrefix("--") || !$0.contains("=") && !$0.isEmpty } : flags,
                                     readProcCmdline: { try? Files.readText("/proc/cmdline") })
        } catch {
            if !isInit {
                Log.error("\(error)")
                exit(2)
            }
            // PID 1 must not die over a typo: defaults, plus whatever the kernel line says that is valid.
            Log.error("configuration: \(error); using defaults")
        }
        Log.level = config.logLevel
        // Every session holds several descriptors; the default soft limit of 1024 would cap PID 1 (and, through
        // inheritance, the workloads) long before memory does. vminitd's adjustLimits does the same.
        do { try ResourceLimits.raiseOpenFilesToMaximum() } catch { Log.error("RLIMIT_NOFILE: \(error)") }

        if isInit {
            // A trap or fault must end in a deliberate reset, never in "Attempted to kill init".
            let rc = clinux_install_crash_handler()
            if rc < 0 { Log.error("crash handler: \(SystemError("sigaction", errno: -rc))") }
            // Installed as /sbin/init, the kernel names us "init": make `/proc/1/comm` (ps, top) say what runs.
            _ = clinux_set_name("vm-init")
            // The workload duties follow the hello (Agent.run).
            boot.mountForAgent()
            ensureStandardDescriptors()
        } else {
            do { try SystemControl.setChildSubreaper() } catch { Log.error("\(error)") }
            if let hostname = config.hostname {
                do { try SystemControl.setHostname(hostname) } catch { Log.error("hostname: \(error)") }
            }
        }
        Log.debug("vm-init 0.1 starting (pid \(getpid()), listen \(config.listen), drain \(config.drainMs) ms)")

        do {
            boot.mark("agent")
            let agent = try Agent(config: config, boot: boot, isInit: isInit)
            try agent.run()
            Log.error("event loop stopped unexpectedly")
        } catch {
            Log.error("fatal: \(error)")
        }
        guard isInit else { exit(1) }
        Agent.powerOff(.poweroff, boot: boot, reason: "unexpected failure")
    }

    /// Opens /dev/null on any of fds 0–2 that are closed, so later descriptors never land on them.
    static func ensureStandardDescriptors() {
        for fd in [FileDescriptor.standardInput, .standardOutput, .standardError] where !fd.isOpen {
            let opened = (try? FileDescriptor.open("/dev/console", flags: O_RDWR | O_NOCTTY))
                ?? (try? FileDescriptor.open("/dev/null", flags: O_RDWR))
            // The lowest free number is `fd` itself; dup2 then clears close-on-exec, which children need.
            guard let opened else { continue }
            _ = try? opened.dup2(onto: fd)
            if opened != fd { opened.close() }
        }
    }
}
