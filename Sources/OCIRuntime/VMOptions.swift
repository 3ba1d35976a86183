import VMM

/// What a bundle says about the VM itself: size, kernel, VMM, the TAP's network namespace, the hostname.
/// Every field is nil when the bundle says nothing about it, so ``apply(to:)`` changes only what it names and
/// the runtime configuration's defaults stand for the rest.
///
/// Precedence: an `org.fc-runtime.*` annotation beats `linux.resources`, which beats the defaults.
public struct VMOptions: Sendable, Equatable {
    public var vcpus: Int?
    public var memoryMiB: Int?
    public var kernel: String?
    public var vmm: VMMKind?
    /// The name under /run/netns of the namespace the TAP lives in (and the VMM runs in).
    public var netns: String?
    public var hostname: String?

    public init(vcpus: Int? = nil, memoryMiB: Int? = nil, kernel: String? = nil, vmm: VMMKind? = nil,
                netns: String? = nil, hostname: String? = nil) {
        self.vcpus = vcpus; self.memoryMiB = memoryMiB; self.kernel = kernel; self.vmm = vmm
        self.netns = netns; self.hostname = hostname
    }

    /// Annotation keys; any other key under ``annotationPrefix`` is refused, so a misspelt option is an error
    /// rather than silently ignored.
    public enum Annotation {
        public static let vcpus = "org.fc-runtime.vcpus"
        public static let memoryMiB = "org.fc-runtime.memory-mib"
        public static let kernel = "org.fc-runtime.kernel"
        public static let vmm = "org.fc-runtime.vmm"
        static let all: Set<String> = [vcpus, memoryMiB, kernel, vmm]
    }

    public static let annotationPrefix = "org.fc-runtime."

    /// The options `spec` asks for. Throws for a value that cannot become a VM (a bad annotation, a cpuset that
    /// does not parse, a network namespace that is not a named one).
    public init(spec: OCISpec) throws(OCIError) {
        let annotations = spec.annotations ?? [:]
        for key in annotations.keys.sorted() where key.hasPrefix(Self.annotationPrefix) && !Annotation.all.contains(key) {
            throw OCIError(.unsupportedOption, "unknown annotation \(quoted(key, limit: 80)) (known: \(Annotation.all.sorted().joined(separator: ", ")))")
        }
        let resources = spec.linux?.resources
        // Both sources are checked even when the annotation wins: a bad cpuset is an error either way.
        let cpuVCPUs = try resources?.cpu.flatMap { cpu throws(OCIError) in try VMSizing.vcpus(cpu) }
        vcpus = try Self.integerAnnotation(annotations, Annotation.vcpus, in: 1...VMSizing.maximumVCPUs) ?? cpuVCPUs
        let limitMiB = resources?.memory?.limit.flatMap(VMSizing.memoryMiB(limit:))
        memoryMiB = try Self.integerAnnotation(annotations, Annotation.memoryMiB, in: 16...(1 << 24)) ?? limitMiB
        if let kernel = annotations[Annotation.kernel] {
            guard kernel.hasPrefix("/") else {
                throw OCIError(.unsupportedOption, "annotation \(Annotation.kernel)=\(quoted(kernel)) is not an absolute path")
            }
            self.kernel = kernel
        }
        if let name = annotations[Annotation.vmm] {
            guard let kind = VMMKind(rawValue: name) else {
                throw OCIError(.unsupportedOption, "annotation \(Annotation.vmm)=\(quoted(name, limit: 40)) is not one of firecracker, qemu")
            }
            vmm = kind
        }
        if let namespaces = spec.linux?.namespaces { try Self.checkPIDNamespace(namespaces) }
        netns = try Self.networkNamespace(spec.linux?.namespaces ?? [])
        hostname = spec.hostname.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Fills `config` with what the bundle named. The hostname travels in vm-init's `network` message, which the
    /// supervisor sends only for a VM with a TAP (``VMConfig/validate()`` refuses guest network options without
    /// one), so it is applied only when `config` has a TAP; otherwise the caller delivers ``hostname`` itself.
    public func apply(to config: inout VMConfig) {
        if let vcpus { config.vcpus = vcpus }
        if let memoryMiB { config.memoryMiB = memoryMiB }
        if let kernel { config.kernel = kernel }
        if let vmm { config.vmm = vmm }
        if let netns {
            config.network.netns = netns
            // The jailer enters the namespace by path, as `fc-supervisor run --netns` sets it up.
            config.jailer?.netns = "/run/netns/" + netns
        }
        if let hostname, config.tap != nil { config.network.guestHostname = hostname }
    }

    private static func integerAnnotation(_ annotations: [String: String], _ key: String,
                                          in range: ClosedRange<Int>) throws(OCIError) -> Int? {
        guard let text = annotations[key] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw OCIError(.unsupportedOption, "annotation \(key)=\(quoted(text, limit: 40)) is not an integer in \(range.lowerBound)–\(range.upperBound)")
        }
        return value
    }

    /// `linux.namespaces` (when the spec lists them) must give the container a new PID namespace: the workload
    /// always runs in the VM's own, so a list without `pid` (podman `--pid host`: the host's) or a `pid` entry with
    /// a path (`--pid container:X`, another process's) asks for sharing a VM cannot give, and is refused rather
    /// than run with a different meaning. A spec without a namespace list says nothing and is accepted.
    static func checkPIDNamespace(_ namespaces: [OCISpec.Namespace]) throws(OCIError) {
        guard let pid = namespaces.first(where: { $0.type == "pid" }) else {
            throw OCIError(.unsupportedOption,
                           "linux.namespaces has no pid namespace: the host's PID namespace cannot be shared with a VM (the workload runs in the VM's own)")
        }
        if let path = pid.path, !path.isEmpty {
            throw OCIError(.unsupportedOption,
                           "pid namespace \(quoted(path)): another process's PID namespace cannot be joined from a VM (the workload runs in the VM's own)")
        }
    }

    /// `linux.namespaces`: a `network` entry with a path names the namespace the TAP lives in. Without a path
    /// (a new namespace) or without the entry, the VM is the isolation and the TAP stays where the runtime runs.
    /// The other namespace types are the VM itself and are ignored. Only `/run/netns/NAME` (or `/var/run/…`) can
    /// be honoured: the TAP is created through the namespace's name, as `ip netns` names it.
    static func networkNamespace(_ namespaces: [OCISpec.Namespace]) throws(OCIError) -> String? {
        guard let path = namespaces.first(where: { $0.type == "network" })?.path, !path.isEmpty else { return nil }
        for directory in ["/run/netns/", "/var/run/netns/"] where path.hasPrefix(directory) {
            let name = String(path.dropFirst(directory.count))
            if isNamespaceName(name) { return name }
        }
        throw OCIError(.unsupportedOption,
                       "network namespace \(quoted(path)) is not /run/netns/NAME (NAME: letters, digits, '-', '_'); the TAP can only be placed in a named namespace")
    }

    /// The names ``VMConfig/validate()`` accepts for `network.netns`.
    static func isNamespaceName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f
        }
    }
}

/// `linux.resources` → VM size, with the rounding documented here.
public enum VMSizing {
    /// Memory the guest itself needs besides the workload: the kernel's own allocations, page tables, vm-init
    /// and its buffers. Added on top of the container's limit so the workload can use its whole limit before
    /// the guest runs short; 64 MiB covers the guest kernel used here (about 35 MiB after boot) with headroom.
    public static let guestOverheadMiB = 64
    /// The smallest VM sized from a memory limit: below this the guest kernel and page cache leave a workload
    /// too little to start.
    public static let minimumMemoryMiB = 128
    /// ``VMConfig/validate()``'s vCPU ceiling; a cpuset naming more CPUs (a whole large host) is capped here.
    public static let maximumVCPUs = 32
    /// The CFS period the kernel uses when `period` is absent (µs).
    public static let defaultCPUPeriod: UInt64 = 100_000

    /// vCPUs for `linux.resources.cpu`: `ceil(quota / period)` for a positive quota (period absent: 100 ms),
    /// the number of CPUs in `cpus`, the smaller of the two when both are set (the quota bounds the time, the
    /// cpuset the parallelism), at least 1 and at most ``maximumVCPUs``. Nil when neither limits anything
    /// (quota absent or -1, cpus absent or empty).
    public static func vcpus(_ cpu: OCISpec.CPU) throws(OCIError) -> Int? {
        var candidates: [Int] = []
        if let quota = cpu.quota, quota > 0 {
            let period = cpu.period.flatMap { $0 > 0 ? $0 : nil } ?? defaultCPUPeriod
            let (whole, rest) = UInt64(quota).quotientAndRemainder(dividingBy: period)
            candidates.append(Int(clamping: whole + (rest > 0 ? 1 : 0)))
        }
        if let cpus = cpu.cpus, !cpus.isEmpty { candidates.append(try cpusetCount(cpus)) }
        guard let smallest = candidates.min() else { return nil }
        return min(max(smallest, 1), maximumVCPUs)
    }

    /// VM memory for a container memory limit in bytes: rounded up to a whole MiB, plus
    /// ``guestOverheadMiB``, at least ``minimumMemoryMiB``. Nil for no limit (0 or negative, -1 being runc's
    /// "unlimited").
    public static func memoryMiB(limit: Int64) -> Int? {
        guard limit > 0 else { return nil }
        let mib = (limit - 1) / (1 << 20) + 1
        return max(Int(clamping: mib) + guestOverheadMiB, minimumMemoryMiB)
    }

    /// The number of distinct CPUs in a cpuset list (`0-3,6,8-9` → 7), as the kernel's cpuset format writes it.
    public static func cpusetCount(_ list: String) throws(OCIError) -> Int {
        var cpus = Set<Int>()
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = item.trimmingASCIISpaces.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count), let low = Int(bounds[0]), let high = Int(bounds[bounds.count - 1]),
                  low >= 0, low <= high, high < 1 << 16 else {
                throw OCIError(.unsupportedOption, "linux.resources.cpu.cpus \(quoted(list, limit: 80)) is not a CPU list such as 0-3,6")
            }
            cpus.formUnion(low...high)
        }
        return cpus.count
    }
}

extension Substring {
    fileprivate var trimmingASCIISpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
