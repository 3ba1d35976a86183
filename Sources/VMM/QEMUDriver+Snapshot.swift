#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSystem

/// QEMU snapshots: the migration stream (RAM + device state) written to a file with `exec:` and read back with
/// `-incoming exec:`. Debian's QEMU 7.2 has no `file:` migration URI (8.2+); `exec:` runs `/bin/sh -c`, so paths
/// are single-quoted. Disks are not in the stream: the caller copies writable drives.
extension QEMUDriver {
    var vmmVersion: String { qmp?.qemuVersion ?? "" }

    /// Migration is rate-limited by default (32 MiB/s in QEMU 7.2); to a local file the limit only costs time.
    static let unlimitedBandwidth: Int64 = 1 << 40
    /// How often `query-migrate` is asked while the stream is written.
    static let migrationPoll: Duration = .milliseconds(5)

    func createSnapshot(_ files: VMMSnapshotFiles, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let process, process.isRunning, let qmp else { return completion(VMMError(.requestFailed, "QEMU is not running")) }
        let quiet: (String) -> Void = { _ in }
        let uri = "exec:cat > " + Self.shellQuoted(files.memory)
        qmp.send("stop", on: loop, log: quiet) { [weak self] error in
            if let error { return completion(error) }
            qmp.request(QMPCommand.json("migrate-set-parameters", ["max-bandwidth": Self.unlimitedBandwidth]),
                        name: "migrate-set-parameters", on: loop, log: quiet) { [weak self] result in
                if case .failure(let error) = result { return completion(error) }
                qmp.request(QMPCommand.json("migrate", ["uri": uri]), name: "migrate", on: loop, log: quiet) { [weak self] result in
                    if case .failure(let error) = result { return completion(error) }
                    self?.awaitMigration(files, on: loop, completion: completion)
                }
            }
        }
    }

    /// Polls `query-migrate` until the stream is complete (then writes `vmm.json`) or failed.
    private func awaitMigration(_ files: VMMSnapshotFiles, on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let qmp else { return completion(VMMError(.requestFailed, "QEMU went away during the snapshot")) }
        qmp.request(QMPCommand.command("query-migrate"), name: "query-migrate", on: loop, log: { _ in }) { [weak self] result in
            guard let self else { return }
            switch result {
            case .failure(let error): completion(error)
            case .success(let reply):
                switch reply.result?.status {
                case "completed":
                    let info = VMMSnapshotInfo(vmm: VMMKind.qemu.rawValue, version: self.vmmVersion,
                                               accelerator: self.accelerator.rawValue, tscKHz: self.tscKHz,
                                               vcpus: self.config.vcpus, memoryMiB: self.config.memoryMiB)
                    do throws(VMMError) { try info.write(files, names: ["memory"]) } catch { return completion(error) }
                    completion(nil)
                case "failed", "cancelled":
                    completion(VMMError(.requestFailed, "QEMU migration to \(files.memory) \(reply.result?.status ?? "failed"): "
                                        + (reply.result?.errorDesc ?? "no reason given")))
                default:
                    loop.addTimer(after: Self.migrationPoll) { [weak self] in self?.awaitMigration(files, on: loop, completion: completion) }
                }
            }
        }
    }

    func resumeAfterSnapshot(on loop: EventLoop, completion: @escaping (VMMError?) -> Void) {
        guard let process, process.isRunning, let qmp else { return completion(VMMError(.requestFailed, "QEMU is not running")) }
        // `cont` is valid from `postmigrate`, the state a completed outgoing migration leaves.
        qmp.send("cont", on: loop, log: { _ in }, completion: completion)
    }

    /// A new QEMU with the command line of the snapshot's machine plus `-incoming exec:cat FILE`. The stream of a
    /// stopped VM loads into a `paused` one (measured here: 256 MiB under TCG, saved in 60 ms, loaded in 150 ms),
    /// which `cont` runs.
    func restore(from files: VMMSnapshotFiles, deadline: Clock.Instant) throws(VMMError) {
        let info = try VMMSnapshotInfo.check(files, against: config)
        guard let chosen = QEMUAccelerator(rawValue: info.accelerator ?? "") else {
            throw VMMError(.invalidConfiguration, "\(files.info) names no QEMU accelerator")
        }
        accelerator = chosen
        tscKHz = info.tscKHz ?? 0
        removeSockets()
        restored = true
        var commandLine = QEMUCommandLine(config: config, paths: paths, accelerator: accelerator, tscKHz: tscKHz)
        commandLine.channelServer = true
        let arguments = commandLine.arguments + ["-incoming", "exec:cat " + Self.shellQuoted(files.memory)]
        do {
            try launch(arguments, deadline: deadline)
            try awaitRunning(deadline: deadline)
        } catch {
            process?.waitOrKill(timeout: .zero)
            throw error
        }
    }

    private func awaitRunning(deadline: Clock.Instant) throws(VMMError) {
        guard let qmp, let process else { throw VMMError(.bootFailed, "QEMU is not running") }
        while true {
            let status: String?
            do { status = try qmp.execute(QMPCommand.command("query-status"), name: "query-status", deadline: deadline).result?.status } catch {
                throw VMMError(.bootFailed, "QEMU did not load the snapshot: \(error.message)\(vmmLogTail())", cause: error)
            }
            switch status {
            case "running": return
            case "paused":
                // The stream of a stopped VM loads into a paused one (QEMU keeps the source's run state).
                do { _ = try qmp.execute(QMPCommand.command("cont"), name: "cont", deadline: deadline) } catch {
                    throw VMMError(.bootFailed, "QEMU did not resume the loaded snapshot: \(error.message)", cause: error)
                }
                return
            case "inmigrate", "prelaunch": break
            default: throw VMMError(.bootFailed, "QEMU is \(status ?? "in an unknown state") after loading the snapshot\(vmmLogTail())")
            }
            guard process.isRunning else { throw VMMError(.bootFailed, "QEMU exited while loading the snapshot\(vmmLogTail())") }
            guard !deadline.hasPassed else { throw VMMError(.bootFailed, "QEMU did not load the snapshot within the boot deadline") }
            Clock.sleep(.milliseconds(2))
        }
    }

    /// How long one dial waits for the restored guest's `hello` before hanging up and dialling again.
    static let redialWait: Duration = .milliseconds(50)

    /// Dials QEMU's channel socket until the restored guest speaks first (PROTOCOL.md §7.5). Each hang-up is a
    /// port close the guest sees, each dial a port open: whatever the order of QEMU's post-load port events and
    /// our first dial, a guest still reading its old connection notices the new host within one round.
    func dialChannel(deadline: Clock.Instant) throws(VMMError) -> (FileDescriptor, [UInt8]) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let fd = try? UnixSocket.connect(path: paths.channelSocket) {
                let wait = min(deadline, Clock.deadline(after: Self.redialWait))
                if (try? fd.waitReadable(until: wait)) == true,
                   let n = try? buffer.withUnsafeMutableBytes({ (raw) throws(SystemError) in try fd.read(into: raw) }), n > 0 {
                    return (fd, Array(buffer[..<n]))
                }
                fd.close()
            }
            guard process?.isRunning ?? false else { throw VMMError(.bootFailed, "QEMU exited before the restored guest answered\(vmmLogTail())") }
            guard !deadline.hasPassed else {
                throw VMMError(.guestUnreachable, "the restored guest did not answer on \(paths.channelSocket) within the boot deadline")
            }
            Clock.sleep(.milliseconds(2))
        }
    }

    /// `'…'` for `/bin/sh`, with `'` written as `'\''`.
    static func shellQuoted(_ path: String) -> String {
        "'" + path.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}

/// One QMP command line with arguments, JSON-encoded (paths may hold any character).
enum QMPCommand {
    private struct Line<Arguments: Encodable>: Encodable {
        var execute: String
        var arguments: Arguments
    }

    static func command(_ name: String) -> String { QMPClient.command(name) }

    static func json(_ name: String, _ arguments: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and integers only: encoding cannot fail.
        return (try? String(decoding: encoder.encode(Line(execute: name, arguments: arguments)), as: UTF8.self)) ?? command(name)
    }
}
