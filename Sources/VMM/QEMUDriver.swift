import Glibc
import LinuxSystem

/// Boots one VM with `qemu-system-x86_64 -M microvm` and reaches vm-init through a virtio-serial port.
///
/// The channel: the supervisor listens on `channel.sock` *before* QEMU starts; QEMU connects to it as a client
/// (`-chardev socket`) and maps it to the virtio-serial port named `vmchan`, which vm-init opens
/// (`vminit.listen=serial:name=vmchan`). Listening first means there is no race and no retry loop.
///
/// Machine (measured, see ../shared/guest-kernel/README.md): microvm without ACPI or option ROMs, software
/// emulation unless a KVM probe boots the kernel (`QEMUAccelerator`), `tsc_early_khz` so the emulated TSC needs
/// no calibration (without it microvm can hang at boot), `reboot=t` + `-no-reboot` so vm-init's
/// `reboot(RB_AUTOBOOT)` ends QEMU (microvm has no ACPI power-off), and a virtio-rng device so the guest's
/// getrandom() does not block boot.
final class QEMUDriver: VMMDriver {
    let config: VMConfig
    let paths: VMMPaths
    private(set) var process: VMMProcess?
    var environment: [String]
    var listener: FileDescriptor?
    var qmp: QMPClient?
    /// What the VM was booted with, for a snapshot's `vmm.json` (a restore must use the same).
    var accelerator: QEMUAccelerator = .tcg
    var tscKHz = 0
    /// Started from a snapshot: QEMU serves the channel socket (``QEMUCommandLine/channelServer``).
    var restored = false
    /// How long `requestGuestShutdown` waits after `system_powerdown` before `quit`.
    var powerdownGrace: Duration = .seconds(1)

    init(config: VMConfig, paths: VMMPaths, environment: [String]) {
        self.config = config
        self.paths = paths
        self.environment = environment
    }

    func boot(deadline: Clock.Instant) throws(VMMError) {
        removeSockets()
        do { listener = try UnixSocket.listen(path: paths.channelSocket, backlog: 1) } catch {
            throw VMMError(.bootFailed, "cannot listen on \(paths.channelSocket): \(error)", cause: error)
        }
        accelerator = QEMUAccelerator.choose(qemuBin: config.qemuBin, kernel: config.kernel,
                                             cacheDirectory: config.stateRoot, environment: environment)
        tscKHz = QEMUCommandLine.hostTSCKHz()
        try launch(QEMUCommandLine(config: config, paths: paths, accelerator: accelerator, tscKHz: tscKHz).arguments,
                   deadline: deadline)
    }

    /// Starts QEMU with `arguments` and connects QMP.
    func launch(_ arguments: [String], deadline: Clock.Instant) throws(VMMError) {
        // For humans debugging a boot: losing it is not a boot failure.
        try? Files.writeAtomically(paths.qemuCommandLine, ([config.qemuBin] + arguments).joined(separator: " ") + "\n")
        // With a VM namespace, QEMU runs inside it (nsenter execs QEMU: same pid) so it finds the TAP there.
        let (binary, argv) = config.network.netnsPath.map { ("/usr/bin/nsenter", ["--net=\($0)", "--", config.qemuBin] + arguments) }
            ?? (config.qemuBin, arguments)
        let process = try VMMProcess.launch(binary, arguments: argv, environment: environment,
                                            outputPath: paths.vmmLog, pidFile: paths.vmmPidFile)
        self.process = process
        // QMP answers once QEMU has parsed its command line and created its devices: a bad argument or a
        // missing kernel ends QEMU before that, and its message is in vmm.log.
        do {
            qmp = try QMPClient(path: paths.qmpSocket, deadline: deadline, alive: { process.isRunning })
        } catch {
            process.waitOrKill(timeout: .milliseconds(200))
            throw VMMError(.bootFailed, "\(error.message)\(vmmLogTail())", cause: error)
        }
    }

    /// Accepts QEMU's connection on channel.sock (QEMU connects at start-up, before the guest runs).
    func connectGuest(deadline: Clock.Instant) throws(VMMError) -> (FileDescriptor, [UInt8]) {
        if restored { return try dialChannel(deadline: deadline) }
        guard let listener else { throw VMMError(.bootFailed, "QEMU channel socket not set up") }
        defer {
            listener.close()
            self.listener = nil
            try? Files.remove(paths.channelSocket)
        }
        while true {
            do {
                if let fd = try UnixSocket.accept(listener) { return (fd, []) }
            } catch {
                throw VMMError(.guestUnreachable, "accept on \(paths.channelSocket): \(error)", cause: error)
            }
            guard process?.isRunning ?? false else {
                throw VMMError(.bootFailed, "QEMU exited before connecting its channel\(vmmLogTail())")
            }
            guard !deadline.hasPassed else {
                throw VMMError(.guestUnreachable, "QEMU did not connect to \(paths.channelSocket) within the boot deadline")
            }
            // Short waits, so a QEMU that died is noticed within 50 ms rather than at the boot deadline.
            do { _ = try listener.waitReadable(until: min(deadline, Clock.deadline(after: .milliseconds(50)))) } catch {
                throw VMMError(.guestUnreachable, "poll on \(paths.channelSocket): \(error)", cause: error)
            }
        }
    }

    /// `system_powerdown`, and `quit` from a loop timer when QEMU still runs after the grace period (microvm
    /// without ACPI ignores the power button, so `quit` is what actually stops an unreachable guest).
    func requestGuestShutdown(on loop: EventLoop, log: @escaping (String) -> Void) {
        guard let process, process.isRunning, let qmp else { return }
        qmp.send("system_powerdown", on: loop, log: log)
        loop.addTimer(after: powerdownGrace) { [weak self] in
            guard let self, self.process?.isRunning == true else { return }
            self.qmp?.send("quit", on: loop, log: log)
        }
    }

    func setPaused(_ paused: Bool, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let process, process.isRunning, let qmp else {
            return completion(VMMError(.requestFailed, "QEMU is not running"))
        }
        // QMP `stop` halts the vCPUs (the VM's status becomes "paused"); `cont` resumes them.
        qmp.send(paused ? "stop" : "cont", on: loop, log: { _ in }, completion: completion)
    }

    func cleanup() {
        listener?.close()
        listener = nil
        qmp = nil
        removeSockets()
        try? Files.remove(paths.qemuCommandLine)
    }

    func removeSockets() {
        try? Files.remove(paths.channelSocket)
        try? Files.remove(paths.qmpSocket)
        try? Files.remove(paths.monitorSocket)
    }

    func vmmLogTail() -> String {
        guard let bytes = try? Files.readAll(paths.vmmLog) else { return "" }
        let lines = String(decoding: bytes.suffix(2000), as: UTF8.self).split(separator: "\n").suffix(3)
        return lines.isEmpty ? "" : " (vmm.log: \(lines.joined(separator: " | ")))"
    }

}

/// The QEMU command line for one VM.
struct QEMUCommandLine {
    let config: VMConfig
    let paths: VMMPaths
    let accelerator: QEMUAccelerator
    /// Host TSC frequency for `tsc_early_khz` (0: unknown, not passed).
    let tscKHz: Int

    /// A restored VM: QEMU listens on the channel socket and the supervisor dials it once the guest runs, so the
    /// guest sees its port closed (nobody connected at load) and then opened by the new host (PROTOCOL.md §7.5).
    var channelServer = false

    /// Name of the virtio-serial port vm-init looks for.
    static let channelName = "vmchan"

    var arguments: [String] {
        var args = accelerator == .kvm ? ["-enable-kvm"] : ["-accel", "tcg"]
        args += ["-M", "microvm,x-option-roms=off,isa-serial=on,acpi=off",
                 "-m", "\(config.memoryMiB)", "-smp", "\(config.vcpus)",
                 "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                 "-kernel", config.kernel]
        if config.console {
            args += ["-chardev", "file,id=con,path=\(paths.serialLog)", "-serial", "chardev:con"]
        }
        if let initrd = config.initrd { args += ["-initrd", initrd] }
        var driveIndex = 0
        func drive(_ path: String, readOnly: Bool) {
            let id = "d\(driveIndex)"
            driveIndex += 1
            args += ["-drive", "file=\(escape(path)),format=raw,if=none,id=\(id),cache=unsafe" + (readOnly ? ",readonly=on" : ""),
                     "-device", "virtio-blk-device,drive=\(id)"]
        }
        if let rootfs = config.rootfs { drive(rootfs, readOnly: false) }
        for extra in config.extraDrives { drive(extra, readOnly: true) }
        if let tap = config.tap {
            args += ["-netdev", "tap,id=n0,ifname=\(tap),script=no,downscript=no",
                     "-device", "virtio-net-device,netdev=n0,mac=\(config.effectiveGuestMAC)"]
        }
        args += ["-chardev", "socket,id=ch1,path=\(escape(paths.channelSocket))" + (channelServer ? ",server=on,wait=off" : ""),
                 "-device", "virtio-serial-device",
                 "-device", "virtserialport,chardev=ch1,name=\(Self.channelName)",
                 "-device", "virtio-rng-device",
                 "-qmp", "unix:\(escape(paths.qmpSocket)),server=on,wait=off",
                 "-qmp", "unix:\(escape(paths.monitorSocket)),server=on,wait=off",
                 "-append", bootArgs]
        return args
    }

    /// `--boot-args` verbatim when given; otherwise the defaults for QEMU microvm.
    var bootArgs: String {
        if let custom = config.bootArgs { return custom }
        var args = ["quiet", "panic=-1", "reboot=t"]
        args.append(config.console ? "console=ttyS0" : "8250.nr_uarts=0")
        if tscKHz > 0 { args.append("tsc_early_khz=\(tscKHz)") }
        // kvm-clock keeps the guest's wall clock close across a snapshot restore; only KVM offers it (under TCG
        // the guest has no kvm-clock, and the restore's `resume` steps the clock instead).
        if accelerator == .kvm { args.append("clocksource=kvm-clock") }
        if config.initrd != nil {
            args.append("rdinit=/sbin/init")
        } else if config.rootfs != nil {
            args += ["root=/dev/vda", "rw"]
        }
        args.append("vminit.listen=serial:name=\(Self.channelName)")
        return args.joined(separator: " ")
    }

    /// QEMU option values separate on commas; a literal comma is doubled.
    private func escape(_ value: String) -> String {
        value.split(separator: ",", omittingEmptySubsequences: false).joined(separator: ",,")
    }

    /// The host CPU's clock in kHz from /proc/cpuinfo (`cpu MHz`), 0 when unknown.
    static func hostTSCKHz() -> Int {
        guard let bytes = try? Files.readAll("/proc/cpuinfo", limit: 64 * 1024) else { return 0 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("cpu MHz") {
            guard let colon = line.firstIndex(of: ":"),
                  let mhz = Double(line[line.index(after: colon)...].qemuTrimmed(" \t")) else { continue }
            return Int(mhz * 1000)
        }
        return 0
    }
}

/// KVM or software emulation (TCG).
enum QEMUAccelerator: String {
    case kvm
    case tcg

    /// Picks the accelerator: `FC_SUPERVISOR_QEMU_ACCEL=kvm|tcg` forces it; without a usable /dev/kvm it is TCG;
    /// otherwise a probe boots the guest kernel under KVM with no root device (`panic=-1 reboot=t -no-reboot`:
    /// a working KVM makes QEMU exit 0 within a second; a broken one reports an emulation failure or hangs).
    /// The probe's answer is cached in `<cacheDirectory>/qemu-accel` per host boot, QEMU binary and kernel.
    static func choose(qemuBin: String, kernel: String, cacheDirectory: String, environment: [String]) -> QEMUAccelerator {
        for entry in environment where entry.hasPrefix("FC_SUPERVISOR_QEMU_ACCEL=") {
            if let forced = QEMUAccelerator(rawValue: String(entry.dropFirst("FC_SUPERVISOR_QEMU_ACCEL=".count))) { return forced }
        }
        guard let kvm = try? FileDescriptor.open("/dev/kvm", flags: O_RDWR) else { return .tcg }
        kvm.close()
        let bootID = Files.readValue("/proc/sys/kernel/random/boot_id") ?? "?"
        let key = "\(bootID) \(qemuBin) \(kernel)"
        let cacheFile = cacheDirectory + "/qemu-accel"
        if let cached = try? Files.readText(cacheFile) {
            let lines = cached.split(separator: "\n")
            if lines.count == 2, lines[0] == key, let answer = QEMUAccelerator(rawValue: String(lines[1])) { return answer }
        }
        let answer: QEMUAccelerator = probeKVM(qemuBin: qemuBin, kernel: kernel, environment: environment) ? .kvm : .tcg
        // Only a cache: without it the next start probes again.
        try? Files.writeAtomically(cacheFile, "\(key)\n\(answer.rawValue)\n")
        return answer
    }

    private static func probeKVM(qemuBin: String, kernel: String, environment: [String]) -> Bool {
        guard let devNull = try? FileDescriptor.open("/dev/null", flags: O_RDWR) else { return false }
        defer { devNull.close() }
        // QEMU's stderr goes to an unlinked temporary file, so an emulation failure is seen at once.
        guard let (errors, errorsPath) = try? Files.makeTemporaryFile(prefix: "/tmp/fc-kvm-probe-") else { return false }
        try? Files.remove(errorsPath)
        defer { errors.close() }
        func failedVisibly() -> Bool {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = (try? buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in try errors.read(into: raw, atOffset: 0) }) ?? 0
            guard n > 0 else { return false }
            let text = String(decoding: buffer[..<n], as: UTF8.self)
            return text.contains("KVM internal error") || text.contains("emulation failure") || text.contains("failed to initialize")
        }
        let args = ["-enable-kvm", "-M", "microvm,x-option-roms=off,isa-serial=off,acpi=off", "-m", "64", "-smp", "1",
                    "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot", "-kernel", kernel,
                    "-append", "quiet panic=-1 reboot=t"]
        guard let pid = try? ChildProcess.launch(qemuBin, arguments: args, environment: environment,
                                                 standardInput: devNull, standardOutput: devNull, standardError: errors,
                                                 newProcessGroup: true, parentDeathSignal: SIGKILL) else { return false }
        let process = VMMProcess(pid: pid)
        let deadline = Clock.deadline(after: .seconds(2))
        while process.isRunning && !deadline.hasPassed && !failedVisibly() { Clock.sleep(.milliseconds(10)) }
        if process.isRunning {
            process.waitOrKill(timeout: .zero)
            return false
        }
        if case .exited(0)? = process.termination { return true }
        return false
    }
}

private extension String {
    func qemuTrimmed(_ set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s = s.dropFirst() }
        while let l = s.last, chars.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

private extension Substring {
    func qemuTrimmed(_ set: String) -> String { String(self).qemuTrimmed(set) }
}
