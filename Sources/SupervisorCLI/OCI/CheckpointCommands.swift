#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime
import Supervisor
import VMM
import VsockProtocol

/// runc's CRIU flags that go-runc and podman may pass: accepted, without effect (a VM snapshot holds every socket,
/// lock, namespace and terminal of the guest), or refused where they ask for what a VM snapshot does not do.
struct CRIUOptions: ParsableArguments {
    @Option(name: .long, help: "Accepted (the VMM needs no work directory).") var workPath: String?
    @Flag(name: .long, help: "Accepted: the guest's TCP connections are in the snapshot.") var tcpEstablished = false
    @Flag(name: .customLong("ext-unix-sk"), help: "Accepted.") var extUnixSk = false
    @Flag(name: .long, help: "Accepted: the guest's terminals are in the snapshot.") var shellJob = false
    @Flag(name: .long, help: "Accepted.") var fileLocks = false
    @Option(name: .long, help: "Accepted.") var manageCgroupsMode: String?
    @Option(name: .long, help: "Accepted.") var emptyNs: [String] = []
    @Flag(name: .long, help: "Accepted.") var autoDedup = false
    @Flag(name: .long, help: "Refused: memory is restored from a file.") var lazyPages = false
    @Option(name: .long, help: "Refused.") var statusFd: String?
    @Option(name: .long, help: "Refused.") var pageServer: String?

    func check() throws(RuntimeFailure) {
        if lazyPages { throw RuntimeFailure("--lazy-pages is not supported: the VM's memory is restored from its file") }
        if pageServer != nil { throw RuntimeFailure("--page-server is not supported: the snapshot is written to --image-path") }
        if statusFd != nil { throw RuntimeFailure("--status-fd is not supported") }
    }
}

struct CheckpointCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint", abstract: "Snapshot a running container's VM into a directory; stop it unless --leave-running.")
    @Option(name: .long, help: "The checkpoint directory (default: ./checkpoint).") var imagePath = "checkpoint"
    @Flag(name: .long, help: "The container keeps running after the snapshot.") var leaveRunning = false
    @Flag(name: .long, help: "Refused: incremental snapshots are not supported.") var preDump = false
    @Option(name: .long, help: "Refused: incremental snapshots are not supported.") var parentPath: String?
    @OptionGroup var criu: CRIUOptions
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        try criu.check()
        if preDump || parentPath != nil { throw RuntimeFailure("incremental checkpoints (--pre-dump, --parent-path) are not supported") }
        let container = try Containers.load(root: globals.root, id: id)
        guard container.status == .running else { throw RuntimeFailure("container not running") }
        guard let target = OCIBundle.absolutePath(imagePath) else { throw RuntimeFailure("--image-path \(imagePath) cannot be resolved") }
        try CheckpointDirectory.write(target, container: container, globals: globals, leaveRunning: leaveRunning)
        if !leaveRunning, container.pid > 0 { _ = Containers.waitGone(container.pid, id: id, timeout: .seconds(10)) }
        return 0
    }
}

struct RestoreCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Start a container from a checkpoint; in the foreground, exit with its status.")
    @Option(name: .long, help: "The checkpoint directory (default: ./checkpoint).") var imagePath = "checkpoint"
    @Option(name: [.customShort("b"), .long], help: "The bundle directory (default: the current directory).") var bundle = "."
    @Option(name: .long, help: "Write the container's pid (its supervisor's) here.") var pidFile: String?
    @Flag(name: [.customShort("d"), .long], help: "Return once the workload runs again.") var detach = false
    @Flag(name: .customLong("no-subreaper"), help: "Accepted.") var noSubreaper = false
    @Option(name: .long, help: "Accepted.") var lsmProfile: String?
    @Option(name: .long, help: "Accepted.") var lsmMountContext: String?
    @OptionGroup var options: CreateOptions
    @OptionGroup var criu: CRIUOptions
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        try criu.check()
        guard let directory = OCIBundle.absolutePath(imagePath) else { throw RuntimeFailure("--image-path \(imagePath) cannot be resolved") }
        let forwarder = detach ? nil : SignalForwarder()
        let pid: Int32
        do {
            try options.check()
            pid = try ContainerLauncher.launch(.init(globals: globals, bundle: bundle, id: id, pidFile: pidFile, hold: false,
                                                     consoleSocket: options.consoleSocket, detached: detach,
                                                     restoreFrom: directory))
        } catch {
            throw RuntimeFailure("fc-supervisor restore failed: \(error.message)")
        }
        guard let forwarder else { return 0 }
        return forwarder.forward(to: pid)
    }
}

/// Writing a checkpoint directory (into a temporary sibling, renamed into place last) and checking one before a
/// restore starts anything.
enum CheckpointDirectory {
    static func write(_ target: String, container: Container, globals: GlobalOptions, leaveRunning: Bool) throws(RuntimeFailure) {
        let parent = String(target[..<(target.lastIndex(of: "/") ?? target.startIndex)])
        let name = String(target.split(separator: "/").last ?? "checkpoint")
        do { try Files.makeDirectories(parent.isEmpty ? "/" : parent, mode: 0o755) } catch {
            throw RuntimeFailure("cannot create \(parent): \(error)")
        }
        let temporary: String
        do { temporary = try Files.makeTemporaryDirectory(prefix: "\(parent)/.\(name).partial-") } catch {
            throw RuntimeFailure("cannot create a directory beside \(target): \(error)")
        }
        do throws(RuntimeFailure) {
            let plan = try plan(for: container, globals: globals)
            let request = LifecycleRequest(action: .checkpoint, imagePath: temporary, leaveRunning: leaveRunning)
            do { _ = try ControlCommands.lifecycle(request, stateRoot: globals.root, id: container.record.id, timeout: .seconds(600)) } catch {
                throw RuntimeFailure(error.message.hasPrefix("invalid_state: ") ? String(error.message.dropFirst(15)) : error.message)
            }
            let info: VMMSnapshotInfo
            do { info = try VMMSnapshotInfo.check(VMMSnapshotFiles(directory: temporary), against: plan.vm) } catch {
                throw RuntimeFailure("checkpoint: \(error.message)")
            }
            let workload: CheckpointWorkload
            do { workload = try CheckpointWorkload.read(directory: temporary) } catch { throw RuntimeFailure(error.message) }
            var files = info.files
            for extra in [CheckpointWorkload.fileName, "vmm.json"] { files[extra] = Files.size(temporary + "/" + extra) }
            let manifest = CheckpointManifest(vmm: info, kernelSHA256: try sha256(plan.vm.kernel), imageDigest: plan.image.digest,
                                              generation: workload.generation, session: workload.session,
                                              id: container.record.id, files: files)
            do { try manifest.write(directory: temporary) } catch { throw RuntimeFailure(error) }
            try replace(target, with: temporary)
        } catch {
            try? Files.removeTree(temporary)
            throw error
        }
    }

    /// Refuses a directory the plan's VM cannot restore, before anything is started.
    static func checkRestorable(_ directory: String, plan: ContainerPlan) throws(RuntimeFailure) {
        guard Files.isDirectory(directory) else { throw RuntimeFailure("checkpoint \(directory) does not exist") }
        do throws(OCIError) {
            let manifest = try CheckpointManifest.load(directory: directory)
            try manifest.check(directory: directory, vm: plan.vm, imageDigest: plan.image.digest)
            guard manifest.session != nil else {
                throw OCIError(.invalidCheckpoint, "the checkpoint in \(directory) holds no running workload")
            }
        } catch {
            throw RuntimeFailure(error)
        }
        do { _ = try CheckpointWorkload.read(directory: directory) } catch { throw RuntimeFailure(error.message) }
    }

    private static func plan(for container: Container, globals: GlobalOptions) throws(RuntimeFailure) -> ContainerPlan {
        do {
            let bundle = try OCIBundle.load(path: container.record.bundle)
            let configuration = try RuntimeConfiguration.load(flag: globals.config, environment: SelfSpawn.environmentDictionary)
            return try ContainerPlan.make(bundle: bundle, configuration: configuration, root: globals.root, id: container.record.id)
        } catch let error as RuntimeFailure {
            throw error
        } catch let error as OCIError {
            throw RuntimeFailure(error)
        } catch {
            throw RuntimeFailure("\(error)")
        }
    }

    private static func sha256(_ path: String) throws(RuntimeFailure) -> String {
        do { return try CheckpointManifest.sha256(file: path) } catch { throw RuntimeFailure(error) }
    }

    /// `rename(temporary, target)`; an existing target (runc writes into an existing image path) is moved aside
    /// first and removed after, so a reader sees the old checkpoint or the new one, never a mixture.
    private static func replace(_ target: String, with temporary: String) throws(RuntimeFailure) {
        var aside: String?
        if Files.exists(target) {
            let old = temporary + ".old"
            do { try Files.rename(target, to: old) } catch { throw RuntimeFailure("cannot replace \(target): \(error)") }
            aside = old
        }
        do { try Files.rename(temporary, to: target) } catch {
            if let aside { try? Files.rename(aside, to: target) }
            throw RuntimeFailure("cannot rename the checkpoint into \(target): \(error)")
        }
        if let aside { try? Files.removeTree(aside) }
    }
}
