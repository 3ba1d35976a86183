import ArgumentParser
import VMM
import VsockProtocol

/// The VM itself: which VMM, what it boots, its size and how vm-init is reached.
struct MachineOptions: ParsableArguments {
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
    @Option(name: .long, help: "Seconds to wait for vm-init's hello.") var bootTimeout: Double = 60

    func validate() throws {
        guard VMMKind(rawValue: vmm) != nil else { throw ValidationError("--vmm must be firecracker or qemu") }
    }

    func apply(to config: inout VMConfig) {
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
        config.bootTimeout = .milliseconds(Int64(bootTimeout * 1000))
    }
}

/// The TAP, its namespace and the guest's network configuration (see NETWORKING.md in Sources/VMM).
struct NetworkOptions: ParsableArguments {
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
    @Option(name: .long, help: "Network namespace: a name under /run/netns (created if missing, then deleted at exit) where the TAP is created and the VMM runs (the jailer enters it); any other path is passed to the jailer only.") var netns: String?

    func apply(to config: inout VMConfig) {
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
        // A namespace name (or a /run/netns path) is managed: the TAP goes there and the VMM runs there.
        if let netns, !netns.contains("/") || netns.hasPrefix("/run/netns/") || netns.hasPrefix("/var/run/netns/") {
            config.network.netns = netns.split(separator: "/").last.map(String.init) ?? netns
        }
    }
}

/// Firecracker under the jailer: chroot, uid/gid drop, cgroups, rlimits.
struct JailerOptions: ParsableArguments {
    @Option(name: .long, help: "Jailer binary: run Firecracker under the jailer.") var jailerBin: String?
    @Option(name: .long) var jailerUid: UInt32?
    @Option(name: .long) var jailerGid: UInt32?
    @Option(name: .long) var chrootBase = "/srv/jailer"
    @Option(name: .long) var cgroupVersion = 2
    @Option(name: .long, help: "Jailer --cgroup file=value (repeatable).") var cgroup: [String] = []
    @Option(name: .long, help: "Jailer --resource-limit name=value (repeatable).") var resourceLimit: [String] = []

    func validate() throws {
        if jailerBin != nil && (jailerUid == nil || jailerGid == nil) {
            throw ValidationError("--jailer-bin needs --jailer-uid and --jailer-gid")
        }
    }

    /// `netns` is `--netns` as given: the jailer enters it (a bare name means /run/netns/NAME).
    func apply(to config: inout VMConfig, netns: String?) {
        guard let jailerBin, let jailerUid, let jailerGid else { return }
        config.network.tapOwner = jailerUid
        var jailer = JailerConfig(jailerBin: jailerBin, uid: jailerUid, gid: jailerGid)
        jailer.chrootBase = chrootBase
        jailer.cgroupVersion = cgroupVersion
        jailer.netns = netns.map { $0.contains("/") ? $0 : "/run/netns/\($0)" }
        jailer.cgroups = cgroup
        jailer.resourceLimits = resourceLimit
        config.jailer = jailer
    }
}
