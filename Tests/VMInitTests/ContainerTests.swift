import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// The `container` message on the namespace rung: vm-init as PID 1 builds a container root from a directory
/// (type `bind`, standing in for the guest's /dev/vda) holding a static busybox, switches every later process
/// into it, and exec sessions then see only the container.
extension NamespaceTests {
    @Suite struct Container {
        /// A root file system directory: busybox and its applet links, /etc/marker; removed by the caller.
        private func makeRootfs() throws -> TemporaryDirectory {
            let dir = try TemporaryDirectory(prefix: "/var/tmp/vminit-rootfs-")
            try Files.makeDirectories(dir.path + "/bin")
            try Files.makeDirectories(dir.path + "/etc")
            try Files.copy("/bin/busybox", to: dir.path + "/bin/busybox", mode: 0o755)
            for applet in ["sh", "cat", "hostname", "echo", "stat", "ls", "mkdir", "tty", "grep"] {
                try Files.makeSymlink(dir.path + "/bin/" + applet, to: "busybox")
            }
            try Files.writeAtomically(dir.path + "/etc/marker", "container\n")
            return dir
        }

        /// Sends `container` and waits for its one reply (`container_ready` or `error`).
        private func create(_ client: FrameClient, _ request: ContainerRequest) throws -> Message {
            client.send(.container(request))
            let start = client.others.count
            func reply() -> Frame? {
                client.others[start...].first {
                    if case .containerReady = $0.message { return true }
                    if case .error = $0.message { return true }
                    return false
                }
            }
            try client.pump(until: { reply() != nil })
            return try #require(reply()).message
        }

        private func errorMessage(_ message: Message) -> ErrorMessage? {
            if case .error(let e) = message { return e }
            return nil
        }

        private func run(_ client: FrameClient, _ session: SessionID, _ argv: [String],
                         oomScoreAdj: Int32? = nil) throws -> SessionResult {
            try client.run(ExecRequest(session: session, argv: argv, env: ["PATH=/bin"], oomScoreAdj: oomScoreAdj))
        }

        private func request(_ rootfs: String, writable: Bool, mounts: [ContainerMount] = [],
                             files: [ContainerFile]? = nil, check: ContainerCheck? = nil,
                             resources: ContainerResources? = nil) -> ContainerRequest {
            ContainerRequest(root: ContainerRoot(source: rootfs, type: "bind", options: ["ro"], writable: writable),
                             mounts: [ContainerMount(destination: "/proc", type: "proc", source: "proc",
                                                     options: ["nosuid", "noexec", "nodev"]),
                                      ContainerMount(destination: "/tmp", type: "tmpfs", source: "tmpfs",
                                                     options: ["nosuid", "mode=1777", "size=1m"])] + mounts,
                             files: files, hostname: "c1", check: check, resources: resources)
        }

        @Test func writableRootRunsEverySessionInTheContainer() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            try withGuest { guest in
                let client = try guest.connect()
                let files = [ContainerFile(path: "/etc/app/conf", mode: 0o600, bytes: Array("secret\n".utf8))]
                let reply = try create(client, request(rootfs.path, writable: true, files: files,
                                                       check: ContainerCheck(argv0: "sh", path: "/usr/bin:/bin", cwd: "/etc"),
                                                       resources: ContainerResources(memoryMax: 64 << 20, pidsMax: 100)))
                #expect(reply == .containerReady(ContainerReady(root: "/")), "\(reply)")
                // This namespace shares the test's cgroup: the limits are named as not applied, setup goes on.
                #expect(guest.log().contains("container: memory.max 67108864 (no cgroups) not applied"), "\(guest.log())")
                #expect(guest.log().contains("container: pids.max 100 (no cgroups) not applied"))

                #expect(try run(client, 1, ["cat", "/etc/marker"]).stdoutText == "container\n")
                // This PID namespace's /proc, mounted inside the container: PID 1 is vm-init.
                #expect(try run(client, 2, ["cat", "/proc/1/comm"]).stdoutText == "vm-init\n")
                #expect(try run(client, 3, ["hostname"]).stdoutText == "c1\n")
                let write = try run(client, 4, ["sh", "-c", "echo new > /written && cat /written"])
                #expect(write.stdoutText == "new\n")
                #expect(write.exit?.status == ExitStatus(code: 0))
                #expect(!Files.exists(rootfs.path + "/written"), "the write landed in the source directory")
                #expect(try run(client, 5, ["stat", "-c", "%a", "/etc/app/conf"]).stdoutText == "600\n")
                #expect(try run(client, 6, ["cat", "/etc/app/conf"]).stdoutText == "secret\n")
                #expect(!Files.exists(rootfs.path + "/etc/app"))
                // The host's file system is gone from view: only the container's /bin.
                #expect(try run(client, 7, ["ls", "/bin"]).stdoutText.split(separator: "\n").count == 10)
                let oom = try run(client, 8, ["cat", "/proc/self/oom_score_adj"], oomScoreAdj: 500)
                #expect(oom.stdoutText == "500\n")
                #expect(try run(client, 9, ["cat", "/proc/self/oom_score_adj"]).stdoutText == "0\n")

                let again = errorMessage(try create(client, request(rootfs.path, writable: true)))
                #expect(again?.code == .invalidState)
                #expect(again?.session == nil)
            }
        }

        /// runc's default spec mounts cgroup2 read-only over /sys/fs/cgroup. vm-init's root is the container's, so
        /// that mount covers the path vm-init found its cgroup at: sessions must still get their leaves. (This
        /// namespace cannot mount cgroup2 itself, EBUSY; a read-only tmpfs covers the test's cgroup path the same way.)
        @Test func sessionsKeepTheirCgroupsUnderTheContainersReadOnlyCgroupMount() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            let cgroup = try TestCgroup()
            defer { cgroup.remove() }
            try withGuest(cgroup: cgroup.path) { guest in
                let client = try guest.connect()
                let cgroupMount = ContainerMount(destination: "/sys/fs/cgroup", type: "tmpfs", source: "tmpfs",
                                                 options: ["nosuid", "noexec", "nodev", "ro"])
                let reply = try create(client, request(rootfs.path, writable: false, mounts: [cgroupMount]))
                #expect(reply == .containerReady(ContainerReady(root: "/")), "\(reply)")
                let inside = try run(client, 1, ["cat", "/proc/self/cgroup"])
                #expect(inside.stdoutText.split(separator: "\n").contains { $0 == "0::\(cgroup.hierarchyPath)/fc-sessions/1" },
                        "\(inside.stdoutText) \(guest.log())")
                // The mount is the container's, read-only as asked; vm-init made the leaf through its own handle.
                let mkdir = try run(client, 2, ["mkdir", "/sys/fs/cgroup/x"])
                #expect(mkdir.exit?.status != ExitStatus(code: 0))
                #expect(mkdir.stderrText.contains("Read-only file system"), "\(mkdir.stderrText)")
                #expect(Files.isDirectory(cgroup.path + "/fc-sessions"))
            }
        }

        @Test func readOnlyRootRefusesWritesWithEROFS() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            try withGuest { guest in
                let client = try guest.connect()
                let files = [ContainerFile(path: "/etc/resolv.conf", mode: 0o644, bytes: Array("nameserver 10.0.0.1\n".utf8))]
                let reply = try create(client, request(rootfs.path, writable: false, files: files))
                #expect(reply == .containerReady(ContainerReady(root: "/")), "\(reply)")
                let write = try run(client, 1, ["sh", "-c", "echo x > /y"])
                #expect(write.exit?.status.code != 0)
                #expect(String(decoding: write.stderr, as: UTF8.self).contains("Read-only file system"))
                // Files are in place although the root is read-only; mounts below it stay writable.
                #expect(try run(client, 2, ["cat", "/etc/resolv.conf"]).stdoutText == "nameserver 10.0.0.1\n")
                #expect(try run(client, 3, ["sh", "-c", "echo t > /tmp/t && cat /tmp/t"]).stdoutText == "t\n")
                #expect(!Files.exists(rootfs.path + "/etc/resolv.conf"))
            }
        }

        /// OCI configs mount a tmpfs on /dev and a devpts below it: vm-init mounts devtmpfs instead (here the
        /// host's, whose mount points already exist, so nothing outside the namespace changes), and terminal
        /// sessions get their pty from the container's devpts instance.
        @Test func devTmpfsBecomesDevtmpfsAndTerminalsWork() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            try withGuest { guest in
                let client = try guest.connect()
                let dev = [ContainerMount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                                          options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
                           ContainerMount(destination: "/dev/pts", type: "devpts", source: "devpts",
                                          options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"])]
                let reply = try create(client, request(rootfs.path, writable: true, mounts: dev))
                #expect(reply == .containerReady(ContainerReady(root: "/")), "\(reply)")
                let mounts = try run(client, 1, ["grep", "-E", " /dev(/pts)? ", "/proc/self/mountinfo"]).stdoutText
                #expect(mounts.contains(" /dev rw,nosuid") && mounts.contains("- devtmpfs "), "\(mounts)")
                #expect(mounts.contains(" /dev/pts rw,nosuid,noexec") && mounts.contains("- devpts "), "\(mounts)")
                #expect(try run(client, 2, ["sh", "-c", "echo x > /dev/null && cat /dev/null && echo ok"]).stdoutText == "ok\n")
                let tty = try client.run(ExecRequest(session: 3, argv: ["tty"], env: ["PATH=/bin"],
                                                     tty: TerminalSize(rows: 24, cols: 80)))
                #expect(tty.stdoutText.hasPrefix("/dev/pts/"), "\(tty.stdoutText)")
                #expect(tty.exit?.status == ExitStatus(code: 0))
            }
        }

        @Test func checkFailuresUseRuncsTexts() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            try withGuest { guest in
                let client = try guest.connect()
                let reply = errorMessage(try create(client, request(
                    rootfs.path, writable: true, check: ContainerCheck(argv0: "nosuchcmd", path: "/usr/bin:/bin"))))
                #expect(reply?.code == .internal)
                #expect(reply?.message == #"exec: "nosuchcmd": executable file not found in $PATH"#)
                // The guest is not usable after a failed create: a second attempt and exec are refused.
                #expect(errorMessage(try create(client, request(rootfs.path, writable: true)))?.code == .invalidState)
                #expect(try run(client, 1, ["cat", "/etc/marker"]).startFailed != nil)
            }
            try withGuest { guest in
                let client = try guest.connect()
                let reply = errorMessage(try create(client, request(
                    rootfs.path, writable: true, check: ContainerCheck(argv0: "sh", path: "/bin", cwd: "/x"))))
                #expect(reply?.message == #"chdir to cwd ("/x") set in config.json failed: no such file or directory"#)
            }
        }

        @Test func aBadMountIsNamedAndAfterAnExecContainerIsRefused() throws {
            let rootfs = try makeRootfs()
            defer { rootfs.remove() }
            try withGuest { guest in
                let client = try guest.connect()
                let bad = request(rootfs.path, writable: true,
                                  mounts: [ContainerMount(destination: "/data", type: "nosuchfs", source: "x")])
                let reply = errorMessage(try create(client, bad))
                #expect(reply?.code == .internal)
                #expect(reply?.message.hasPrefix("mount /data (nosuchfs): ") == true, "\(String(describing: reply))")
                // After a failed create every later container is refused, even a malformed one.
                let relative = request(rootfs.path, writable: true, mounts: [ContainerMount(destination: "data", type: "tmpfs")])
                #expect(errorMessage(try create(client, relative))?.code == .invalidState)
            }
            try withGuest { guest in
                let client = try guest.connect()
                let relative = request(rootfs.path, writable: true, mounts: [ContainerMount(destination: "../x", type: "tmpfs")])
                #expect(errorMessage(try create(client, relative))?.code == .invalidMessage)
                let badData = ContainerRequest(root: ContainerRoot(source: rootfs.path, type: "bind", writable: true),
                                               files: [ContainerFile(path: "/a", data: "not base64!")])
                #expect(errorMessage(try create(client, badData))?.code == .invalidMessage)
                #expect(try client.run(ExecRequest(session: 1, argv: ["true"])).exit?.status == ExitStatus(code: 0))
                let after = errorMessage(try create(client, request(rootfs.path, writable: true)))
                #expect(after?.code == .invalidState)
                #expect(after?.message.contains("before the first exec") == true)
            }
        }
    }
}
