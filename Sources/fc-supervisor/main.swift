import ArgumentParser
import Glibc
import Supervisor
import VsockProtocol

/// `fc-supervisor`: boots one microVM per workload and serves exec sessions into it.
struct FCSupervisor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fc-supervisor",
        abstract: "Run one workload in a Firecracker (or QEMU) microVM and exec into it.",
        subcommands: [Run.self, Exec.self, State.self, Events.self, Kill.self, Stop.self, List.self]
    )
}

struct StateOptions: ParsableArguments {
    @Option(name: .long, help: "Parent directory of the per-VM state directories.")
    var stateDir: String = VMConfig.defaultStateRoot
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Boot a VM, run CMD in it, exit with its exit code.")

    @Option(name: .long, help: "VM id (1–64 letters, digits or '-').") var id: String
    @OptionGroup var state: StateOptions
    @Option(name: .long, help: "firecracker or qemu.") var vmm: String = "firecracker"
    @Option(name: .long, help: "Path of the firecracker binary.") var firecrackerBin = "firecracker"
    @Option(name: .long, help: "Path of the qemu-system-x86_64 binary.") var qemuBin = "qemu-system-x86_64"
    @Option(name: .long, help: "Uncompressed guest kernel (vmlinux).") var kernel: String
    @Option(name: .long, help: "Root file system image (ext4).") var rootfs: String?
    @Option(name: .long, help: "Initramfs (cpio) with vm-init as /sbin/init.") var initrd: String?
    @Option(name: .long, help: "Extra read-only drive (repeatable).") var drive: [String] = []
    @Option(name: .long) var vcpus = 2
    @Option(name: .long) var memoryMib = 2048
    @Option(name: .long, help: "Kernel command line (replaces the default entirely).") var bootArgs: String?
    @Flag(name: .long, help: "Guest console on ttyS0 into serial.log.") var console = false
    @Option(name: .long, help: "Guest vsock port of vm-init.") var vsockPort: UInt32 = ProtocolConstants.defaultVsockPort
    @Option(name: .long) var guestCid: UInt32 = 3
    @Option(name: .long, help: "Host TAP device for eth0.") var tap: String?
    @Option(name: .long, help: "MAC address of eth0 (default: 02:fc:… derived from the VM id).") var guestMac: String?
    @Flag(name: .long, help: "Create the --tap device (removing a stale one first) and delete it at exit.") var createTap = false
    @Option(name: .long, help: "Address (CIDR) of the host end of the TAP, e.g. the guest's gateway (repeatable).") var tapAddress: [String] = []
    @Option(name: .long, help: "Guest address (CIDR) configured by vm-init over netlink (repeatable).") var guestIp: [String] = []
    @Option(name: .long, help: "Guest default-route gateway (repeatable, one per family).") var gateway: [String] = []
    @Option(name: .long, help: "Guest DNS server (repeatable).") var dns: [String] = []
    @Option(name: .long, help: "Guest DNS search domain (repeatable).") var dnsSearch: [String] = []
    @Option(name: .long, help: "Guest hostname.") var guestHostname: String?
    @Option(name: .long, help: "MTU of the TAP and of the guest interface.") var mtu: UInt32?
    @Option(name: .long, help: "Seconds to wait for vm-init's hello.") var bootTimeout: Double = 60
    @Option(name: .long, help: "Seconds between SIGTERM and SIGKILL when stopping the workload.") var stopTimeout: Double = 10
    @Option(name: .long, help: "Jailer binary: run Firecracker under the jailer.") var jailerBin: String?
    @Option(name: .long) var jailerUid: UInt32?
    @Option(name: .long) var jailerGid: UInt32?
    @Option(name: .long) var chrootBase = "/srv/jailer"
    @Option(name: .long) var cgroupVersion = 2
    @Option(name: .long, help: "Network namespace: a name under /run/netns (created if missing, then deleted at exit) where the TAP is created and the VMM runs (the jailer enters it); any other path is passed to the jailer only.") var netns: String?
    @Option(name: .long, help: "Jailer --cgroup file=value (repeatable).") var cgroup: [String] = []
    @Option(name: .long, help: "Jailer --resource-limit name=value (repeatable).") var resourceLimit: [String] = []
    @Option(name: [.customShort("e"), .long], help: "Environment KEY=VALUE for the workload.") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory in the guest.") var workdir: String?
    @Option(name: [.customShort("u"), .long], help: "User in the guest (name or uid[:gid]).") var user: String?
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Flag(name: .long, help: "Keep the state directory after exit.") var keepState = false
    @Argument(parsing: .postTerminator, help: "The workload: CMD [ARG...] after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing the workload: fc-supervisor run … -- CMD [ARG...]") }
        guard VMMKind(rawValue: vmm) != nil else { throw ValidationError("--vmm must be firecracker or qemu") }
        if jailerBin != nil && (jailerUid == nil || jailerGid == nil) {
            throw ValidationError("--jailer-bin needs --jailer-uid and --jailer-gid")
        }
    }

    func run() throws {
        var config = VMConfig(id: id)
        config.stateRoot = state.stateDir
        config.vmm = VMMKind(rawValue: vmm) ?? .firecracker
        config.firecrackerBin = firecrackerBin
        config.qemuBin = qemuBin
        config.kernel = kernel
        config.rootfs = rootfs
        config.initrd = initrd
        config.extraDrives = drive
        config.vcpus = vcpus
        config.memoryMiB = memoryMib
        config.bootArgs = bootArgs
        config.console = console
        config.vsockPort = vsockPort
        config.guestCID = guestCid
        config.tap = tap
        config.guestMAC = guestMac
        config.network.createTap = createTap
        config.network.tapAddresses = tapAddress
        config.network.guestAddresses = guestIp
        config.network.gateways = gateway
        config.network.dnsServers = dns
        config.network.dnsSearch = dnsSearch
        config.network.guestHostname = guestHostname
        config.network.mtu = mtu
        config.network.tapOwner = jailerBin != nil ? jailerUid : nil
        // A namespace name (or a /run/netns path) is managed: the TAP goes there and the VMM runs there.
        if let netns, !netns.contains("/") || netns.hasPrefix("/run/netns/") || netns.hasPrefix("/var/run/netns/") {
            config.network.netns = netns.split(separator: "/").last.map(String.init) ?? netns
        }
        config.bootTimeout = .milliseconds(Int64(bootTimeout * 1000))
        if let jailerBin, let jailerUid, let jailerGid {
            var jailer = JailerConfig(jailerBin: jailerBin, uid: jailerUid, gid: jailerGid)
            jailer.chrootBase = chrootBase
            jailer.cgroupVersion = cgroupVersion
            jailer.netns = netns.map { $0.contains("/") ? $0 : "/run/netns/\($0)" }
            jailer.cgroups = cgroup
            jailer.resourceLimits = resourceLimit
            config.jailer = jailer
        }
        let supervisor: VMSupervisor
        do { supervisor = try VMSupervisor(config: config) } catch {
            FileHandleLike.standardError("fc-supervisor: \(error.message)")
            throw ExitCode(error.exitCode.rawValue)
        }
        supervisor.stopTimeout = .milliseconds(Int64(stopTimeout * 1000))
        supervisor.keepState = keepState
        let code = supervisor.run(WorkloadSpec(argv: command, env: env, cwd: workdir, user: user, tty: tty))
        throw ExitCode(code)
    }
}

struct Exec: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run CMD in the running VM ID.")
    @OptionGroup var state: StateOptions
    @Flag(name: [.customShort("i"), .long], help: "Keep stdin attached.") var interactive = false
    @Flag(name: [.customShort("t"), .long], help: "Allocate a pseudo-terminal.") var tty = false
    @Option(name: [.customShort("e"), .long], help: "Environment KEY=VALUE.") var env: [String] = []
    @Option(name: [.customShort("w"), .long], help: "Working directory.") var workdir: String?
    @Option(name: [.customShort("u"), .long], help: "User (name or uid[:gid]).") var user: String?
    @Argument(help: "VM id.") var id: String
    @Argument(parsing: .postTerminator, help: "CMD [ARG...] after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("missing the command: fc-supervisor exec ID -- CMD [ARG...]") }
    }

    func run() throws {
        var options = ExecOptions(argv: command)
        options.env = env
        options.cwd = workdir
        options.user = user
        options.interactive = interactive
        options.tty = tty
        do {
            let client = try ExecClient(stateRoot: state.stateDir, id: id, options: options)
            throw ExitCode(client.run())
        } catch let error as SupervisorError {
            FileHandleLike.standardError("fc-supervisor exec: \(error.message)")
            throw ExitCode(error.exitCode.rawValue)
        }
    }
}

struct State: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the state of VM ID.")
    @OptionGroup var state: StateOptions
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Argument var id: String

    func run() throws {
        guard let current = ControlCommands.state(stateRoot: state.stateDir, id: id) else {
            FileHandleLike.standardError("fc-supervisor: no VM \(id)")
            throw ExitCode(1)
        }
        if json {
            print(current.jsonText)
        } else {
            print("\(current.id)\t\(current.state)\tvmm=\(current.vmm) pid=\(current.supervisorPid) workload=\(current.workloadPid.map(String.init) ?? "-")")
        }
    }
}

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the events of VM ID as JSON lines.")
    @OptionGroup var state: StateOptions
    @Flag(name: .shortAndLong, help: "Keep printing until the VM stops.") var follow = false
    @Argument var id: String
    func run() throws {
        try reportingErrors { () throws(SupervisorError) in
            try ControlCommands.events(stateRoot: state.stateDir, id: id, follow: follow)
        }
    }
}

struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a signal to the workload of VM ID.")
    @OptionGroup var state: StateOptions
    @Argument var id: String
    @Argument(help: "Signal number or name (default TERM).") var signal: String = "TERM"
    func run() throws {
        guard let number = SignalNames.number(signal) else { throw ValidationError("unknown signal \(signal)") }
        try reportingErrors { () throws(SupervisorError) in
            try ControlCommands.send(.signal(SignalRequest(session: 0, signal: number)), stateRoot: state.stateDir, id: id)
        }
    }
}

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop the workload of VM ID and power the VM off.")
    @OptionGroup var state: StateOptions
    @Argument var id: String
    func run() throws {
        try reportingErrors { () throws(SupervisorError) in
            try ControlCommands.send(.shutdown(ShutdownRequest()), stateRoot: state.stateDir, id: id)
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the VMs under the state directory.")
    @OptionGroup var state: StateOptions
    func run() throws {
        for vm in ControlCommands.list(stateRoot: state.stateDir) { print("\(vm.id)\t\(vm.state)\t\(vm.vmm)") }
    }
}

/// Runs a one-shot control command: a failure is one line on stderr and exit status 1.
func reportingErrors(_ body: () throws(SupervisorError) -> Void) throws {
    do { try body() } catch {
        FileHandleLike.standardError("fc-supervisor: \(error.message)")
        throw ExitCode(1)
    }
}

enum FileHandleLike {
    static func standardError(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}

if let fast = ExecFastPath.parse(CommandLine.arguments) {
    do {
        let client = try ExecClient(stateRoot: fast.stateDir, id: fast.id, options: fast.options)
        exit(client.run())
    } catch {
        FileHandleLike.standardError("fc-supervisor exec: \(error.message)")
        exit(error.exitCode.rawValue)
    }
}
FCSupervisor.main()
