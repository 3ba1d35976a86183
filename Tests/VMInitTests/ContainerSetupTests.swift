import LinuxSystem
import Testing
import VsockProtocol
@testable import VMInit

/// The pure parts of `container` handling: option splitting, validation before anything is mounted, and the
/// runc-compatible check (run against this machine's own root).
struct ContainerSetupTests {
    @Test func optionsSplitLikeRunc() {
        let o = MountOptions(["ro", "nosuid", "nodev", "mode=755", "size=65536k", "rbind", "rprivate", "defaults"])
        #expect(o.flags == [.readOnly, .noSuid, .noDev])
        #expect(o.propagation == [.privatePropagation, .recursive])
        #expect(o.bind == true)
        #expect(o.data == "mode=755,size=65536k")
        // A later negation clears the flag; no data words means no data string.
        let p = MountOptions(["ro", "noexec", "rw", "exec", "bind", "strictatime"])
        #expect(p.flags == [.strictAtime])
        #expect(p.bind == false)
        #expect(p.data == nil)
        #expect(MountOptions([]).bind == nil)
    }

    @Test func malformedRequestsAreRefusedBeforeAnythingChanges() {
        let root = ContainerRoot(source: "/dev/vda", type: "ext4", writable: true)
        func refusal(_ request: ContainerRequest) -> ContainerError? {
            do { _ = try ContainerRootBuilder(request, defaultPath: "/bin"); return nil } catch { return error }
        }
        let bad: [ContainerRequest] = [
            ContainerRequest(root: ContainerRoot(source: "vda", type: "ext4", writable: true)),
            ContainerRequest(root: ContainerRoot(source: "/dev/vda", type: "", writable: true)),
            ContainerRequest(root: root, mounts: [ContainerMount(destination: "proc", type: "proc")]),
            ContainerRequest(root: root, mounts: [ContainerMount(destination: "/", type: "tmpfs")]),
            ContainerRequest(root: root, mounts: [ContainerMount(destination: "/a/../../etc", type: "tmpfs")]),
            ContainerRequest(root: root, mounts: [ContainerMount(destination: "/data", type: "")]),
            ContainerRequest(root: root, files: [ContainerFile(path: "/etc/x", data: "%%%")]),
            ContainerRequest(root: root, files: [ContainerFile(path: "etc/x", data: "")]),
            ContainerRequest(root: root, hostname: String(repeating: "h", count: 65)),
            ContainerRequest(root: root, hostname: ""),
            ContainerRequest(root: root, check: ContainerCheck(argv0: "")),
        ]
        for request in bad {
            #expect(refusal(request)?.code == .invalidMessage, "\(request)")
        }
        let good = ContainerRequest(root: root, mounts: [ContainerMount(destination: "/data", type: "", source: "/srv",
                                                                        options: ["bind"])],
                                    files: [ContainerFile(path: "/etc/x", bytes: [0, 1, 2])], hostname: "c1",
                                    check: ContainerCheck(argv0: "sh"))
        #expect(refusal(good) == nil)
    }

    @Test func checkUsesRuncsTexts() {
        func message(_ check: ContainerCheck) -> String? {
            do { try ContainerCheckRunner(check: check, defaultPath: "/usr/bin:/bin").run(); return nil } catch {
                #expect(error.code == .internal)
                return error.message
            }
        }
        #expect(message(ContainerCheck(argv0: "sh")) == nil)
        #expect(message(ContainerCheck(argv0: "sh", path: "/nonexistent::/bin", cwd: "/")) == nil)
        #expect(message(ContainerCheck(argv0: "/bin/sh", cwd: "/tmp")) == nil)
        #expect(message(ContainerCheck(argv0: "nosuchcmd-x")) == #"exec: "nosuchcmd-x": executable file not found in $PATH"#)
        #expect(message(ContainerCheck(argv0: "sh", path: "/nonexistent")) == #"exec: "sh": executable file not found in $PATH"#)
        #expect(message(ContainerCheck(argv0: "/nosuch")) == #"exec: "/nosuch": stat /nosuch: no such file or directory"#)
        #expect(message(ContainerCheck(argv0: "/etc")) == #"exec: "/etc": is a directory"#)
        #expect(message(ContainerCheck(argv0: "/etc/passwd")) == #"exec: "/etc/passwd": permission denied"#)
        #expect(message(ContainerCheck(argv0: "./sh", cwd: "/bin")) == nil)
        #expect(message(ContainerCheck(argv0: "sh", cwd: "/x")) ==
                    #"chdir to cwd ("/x") set in config.json failed: no such file or directory"#)
        #expect(message(ContainerCheck(argv0: "sh", cwd: "/etc/passwd")) ==
                    #"chdir to cwd ("/etc/passwd") set in config.json failed: not a directory"#)
    }
}
