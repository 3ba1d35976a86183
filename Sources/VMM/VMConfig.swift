import FirecrackerAPI
import VsockProtocol

/// Which virtual machine monitor boots the guest.
public enum VMMKind: String, Sendable, CaseIterable {
    case firecracker
    case qemu
}

/// Optional jailer launch (Firecracker's `jailer` binary): chroot, uid/gid drop, cgroups, netns, rlimits.
public struct JailerConfig: Sendable, Equatable {
    public var jailerBin: String
    public var uid: UInt32
    public var gid: UInt32
    /// `--chroot-base-dir`; must exist.
    public var chrootBase: String = "/srv/jailer"
    public var cgroupVersion: Int = 2
    public var netns: String?
    /// `--cgroup file=value` entries.
    public var cgroups: [String] = []
    /// `--resource-limit name=value` entries.
    public var resourceLimits: [String] = []

    public init(jailerBin: String, uid: UInt32, gid: UInt32) { self.jailerBin = jailerBin; self.uid = uid; self.gid = gid }
}

/// Everything needed to boot one VM and reach its vm-init.
public struct VMConfig: Sendable {
    public var id: String
    /// Parent of the per-VM state directories.
    public var stateRoot: String = VMConfig.defaultStateRoot
    public var vmm: VMMKind = .firecracker
    public var firecrackerBin: String = "firecracker"
    public var qemuBin: String = "qemu-system-x86_64"
    public var kernel: String = ""
    public var rootfs: String?
    public var initrd: String?
    /// Extra read-only drives (`path`), attached after the root device.
    public var extraDrives: [String] = []
    public var vcpus: Int = 2
    public var memoryMiB: Int = 2048
    /// Replaces the default kernel command line when set (Firecracker's defaults are replaced, not extended).
    public var bootArgs: String?
    /// Also print the guest console (ttyS0) into `serial.log`. Off by default: the console is slow.
    public var console = false
    public var vsockPort: UInt32 = ProtocolConstants.defaultVsockPort
    public var guestCID: UInt32 = 3
    public var tap: String?
    public var guestMAC: String?
    /// TAP/namespace management and the guest's network configuration (see ``HostNetworkConfig``).
    public var network = HostNetworkConfig()
    public var bootTimeout: Duration = .seconds(60)
    public var jailer: JailerConfig?
    /// Firecracker only: have it write its metrics to `vmm.metrics` (`PUT /metrics` before boot), for the
    /// supervisor's `--metrics-listen` endpoint. QEMU has no such file.
    public var firecrackerMetrics = false

    public static let defaultStateRoot = "/run/fc-supervisor"

    public init(id: String) { self.id = id }

    /// The guest's MAC: `--guest-mac`, else a locally administered one derived from the VM id.
    public var effectiveGuestMAC: String { guestMAC ?? deterministicMAC(forVM: id) }

    /// The kernel command line handed to the VMM.
    public var effectiveBootArgs: String {
        if let bootArgs { return bootArgs }
        var args = ["reboot=k", "panic=1", "nomodule", "quiet", "i8042.noaux", "i8042.nomux", "i8042.nopnp",
                    "i8042.dumbkbd", "swiotlb=noforce"]
        args += console ? ["console=ttyS0"] : ["8250.nr_uarts=0"]
        // Firecracker always runs on KVM: kvm-clock keeps the guest's clock close across a snapshot restore.
        if vmm == .firecracker { args.append("clocksource=kvm-clock") }
        // vm-init is /sbin/init in an initrd (or in an initramfs built into the kernel); the kernel's default
        // rdinit is /init, so name it. A rootfs without an initrd is mounted by Firecracker's own root=.
        if vmm == .firecracker && (initrd != nil || rootfs == nil) { args.append("rdinit=/sbin/init") }
        args.append("vminit.port=\(vsockPort)")
        return args.joined(separator: " ")
    }

    /// runc's container-id alphabet (letters, digits, `_ + - .`; not `.` or `..`), at most 64 bytes so the
    /// state directory's sockets fit in a Unix socket path. The id names the state directory; the VMM gets
    /// ``instanceID``.
    public static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id != "." && id != ".."
            && id.utf8.allSatisfy { c in
                (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || "_+-.".utf8.contains(c)
            }
    }

    /// The VMM's own instance id (Firecracker's and the jailer's `--id`, the jail's directory): ``id`` when
    /// Firecracker accepts it, else a collision-resistant form of it.
    public var instanceID: String { FirecrackerIDs.instanceID(for: id) }

    /// Checks everything that can be checked before launching anything.
    public func validate() throws(VMMError) {
        guard Self.isValidID(id) else {
            throw VMMError(.invalidConfiguration,
                           "invalid --id \"\(id)\": 1–64 characters, letters, digits, '_', '+', '-' or '.', and not . or ..")
        }
        guard !kernel.isEmpty else { throw VMMError(.invalidConfiguration, "--kernel is required") }
        guard (1...32).contains(vcpus) else { throw VMMError(.invalidConfiguration, "--vcpus must be 1–32") }
        guard memoryMiB >= 16 else { throw VMMError(.invalidConfiguration, "--memory-mib must be at least 16") }
        guard effectiveBootArgs.utf8.count <= 2048 else {
            throw VMMError(.invalidConfiguration, "kernel command line is longer than Firecracker's 2048 bytes")
        }
        if let tap, tap.isEmpty || tap.utf8.count > 15 {
            throw VMMError(.invalidConfiguration, "--tap must be 1–15 characters (IFNAMSIZ)")
        }
        if let guestMAC, !Self.isValidMAC(guestMAC) {
            throw VMMError(.invalidConfiguration, "--guest-mac must look like 06:00:ac:10:00:02")
        }
        if let ns = network.netns, !HostNetworkConfig.isValidName(ns, max: 64) {
            throw VMMError(.invalidConfiguration, "--netns for QEMU must be a namespace name (letters, digits, '-', '_')")
        }
        if network.createTap && tap == nil { throw VMMError(.invalidConfiguration, "--create-tap needs --tap NAME") }
        if network.configuresGuest && tap == nil {
            throw VMMError(.invalidConfiguration, "guest network options (--guest-ip, --gateway, …) need --tap")
        }
        if let mtu = network.mtu, !(68...65535).contains(mtu) { throw VMMError(.invalidConfiguration, "--mtu must be 68–65535") }
        for cidr in network.guestAddresses + network.tapAddresses where !cidr.contains("/") {
            throw VMMError(.invalidConfiguration, "address \"\(cidr.prefix(60))\" needs a /prefix-length")
        }
        guard guestCID >= 3 else { throw VMMError(.invalidConfiguration, "--guest-cid must be 3 or more") }
    }

    static func isValidMAC(_ s: String) -> Bool {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        return parts.count == 6 && parts.allSatisfy { $0.count == 2 && UInt8($0, radix: 16) != nil }
    }
}
