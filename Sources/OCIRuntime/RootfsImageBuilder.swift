import Glibc
import LinuxSystem

/// Writes an ext4 image of a rootfs directory with `mkfs.ext4 -d` (e2fsprogs ≥ 1.43; 1.47 here): one pass
/// that copies the tree into a fresh file system from user space, with no mount, loop device or privilege.
/// Owners, modes, timestamps, hard links, device nodes, fifos, sockets and extended attributes (file
/// capabilities included) come from the tree; sparse files stay sparse.
///
/// Options, and why:
/// - `-b 4096`: mkfs would pick 1 KiB blocks for a small image; 4 KiB keeps sizing and reads uniform.
/// - `-O ^has_journal`: the guest mounts the image read-only (its writes go to an overlay on tmpfs), so a
///   journal is dead weight (and its blocks would be written here).
/// - `-m 0`: no blocks reserved for root in a read-only file system.
/// - `-N inodes`: sized from the tree rather than mkfs's bytes-per-inode ratio, which a tree of many small
///   files (a distribution's /usr) would run out of.
/// - `-E root_owner=UID:GID`: the tree root's owner (mkfs's default is the caller's). The root's mode is not
///   taken from the tree: mkfs always makes it 0755.
/// - `-L fc-root`; `-q -F` (quiet; the target is a regular file).
/// mkfs runs with `PATH=searchPath` only, so that no MKE2FS_CONFIG or locale of the caller changes the image.
enum RootfsImageBuilder {
    /// The arguments after `mkfs.ext4` that shape the image (these go into the digest's salt).
    static let formatOptions = ["-b", "4096", "-O", "^has_journal", "-m", "0", "-L", "fc-root"]

    /// Image size in bytes for `tree`: content, inode tables and slack.
    ///
    /// content = regular files' data (4 KiB blocks, hard links once) + directory blocks + a block per long
    /// symlink; inodes = entries + 25 % + 64 (lost+found and the reserved inodes 1–10 come out of them);
    /// inode tables at 256 bytes an inode; then + 10 % + 16 MiB for what mkfs adds per block group (bitmaps,
    /// descriptors, extent blocks of large files), rounded up to 1 MiB. The file is sparse, so slack costs no
    /// disk, only free space inside an image nothing writes to.
    static func size(for tree: RootfsTree) -> (bytes: Int64, inodes: Int) {
        let inodes = tree.entries + tree.entries / 4 + 64
        let content = tree.dataBytes + tree.directoryBytes + Int64(tree.longSymlinks) * RootfsTree.blockSize
        let base = content + Int64(inodes) * 256
        let mib: Int64 = 1 << 20
        let total = base + base / 10 + 16 * mib
        return ((total + mib - 1) / mib * mib, inodes)
    }

    /// Blocks the image will really allocate on the host (it is sparse): what must be free before building.
    static func allocatedEstimate(for tree: RootfsTree) -> Int64 {
        let (_, inodes) = size(for: tree)
        return tree.dataBytes + tree.directoryBytes + Int64(tree.longSymlinks) * RootfsTree.blockSize
            + Int64(inodes) * 256 + (4 << 20)
    }

    /// Runs `mkfs.ext4` on the existing (sized) file `target`; one-line errors.
    static func run(rootfs: String, owner: (uid: UInt32, gid: UInt32), inodes: Int, target: String,
                    searchPath: String) throws(OCIError) {
        // A relative path starting with `-` would be read as an option.
        func operand(_ path: String) -> String { path.hasPrefix("/") ? path : "./" + path }
        let arguments = ["mkfs.ext4", "-q", "-F"] + formatOptions
            + ["-N", String(inodes), "-E", "root_owner=\(owner.uid):\(owner.gid)", "-d", operand(rootfs), operand(target)]
        let output: Pipe
        let input: FileDescriptor
        do {
            output = try Pipe()
            input = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
        } catch {
            throw OCIError(.imageUnavailable, "cannot run mkfs.ext4: \(error)", cause: error)
        }
        var options = SpawnOptions(arguments: arguments, environment: ["PATH=\(searchPath)", "LC_ALL=C"])
        options.searchPath = searchPath
        options.standardInput = input
        options.standardOutput = output.writeEnd
        options.standardError = output.writeEnd
        // The build is abandoned (its temporary file left for the next builder to remove) if this thread dies.
        options.parentDeathSignal = SIGKILL
        let pid: Int32
        do { pid = try ChildProcess.spawn(options) } catch {
            output.close(); input.close()
            if error.childSetupStep == .exec && error.errno == ENOENT {
                throw OCIError(.imageUnavailable, "mkfs.ext4 not found in \(searchPath) (install e2fsprogs)", cause: error)
            }
            throw OCIError(.imageUnavailable, "cannot run mkfs.ext4: \(error)", cause: error)
        }
        output.writeEnd.close()
        input.close()
        let text = String(decoding: (try? output.readEnd.readToEnd(limit: 64 << 10)) ?? [], as: UTF8.self)
        output.readEnd.close()
        let status: ProcessTermination?
        do { status = try ChildProcess.wait(pid: pid, nonBlocking: false)?.termination } catch {
            throw OCIError(.imageUnavailable, "mkfs.ext4 for \(rootfs): \(error)", cause: error)
        }
        guard status != .exited(0) else { return }
        // mkfs names the problem over a few lines, the file (by its name) before the summary:
        // `do_write_internal: Permission denied while opening "shadow" to copy` … `mkfs.ext4: Permission denied
        // while populating file system`; so all of them, joined.
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
        let how = switch status {
        case .exited(let code)?: "exit status \(code)"
        case .signaled(let signal, _)?: "killed by signal \(signal)"
        case nil: "no exit status"
        }
        let reason = lines.isEmpty ? how : String(lines.joined(separator: "; ").prefix(400))
        throw OCIError(.imageUnavailable, "mkfs.ext4 could not build the image of \(rootfs): \(reason)")
    }
}

private extension Substring {
    func trimmingCharacters() -> Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s = s.dropLast() }
        return s
    }
}
