import Foundation
import LinuxSystem
import OCIRuntime

/// `features`: runc's shape (contract §2.5), with what a VM honours. Namespaces are the VM itself (a
/// network-namespace path places the TAP); there are no per-container cgroups, seccomp, AppArmor or SELinux
/// on the host side, so those are reported disabled; mount options are the ones the guest applies.
/// `linux.capabilities` is left out (the spec's "unknown"): vm-init applies whatever libcap knows in the guest.
enum RuntimeFeatures {
    static var json: String {
        """
        {
            "ociVersionMin": "1.0.0",
            "ociVersionMax": "\(ContainerState.specVersion)",
            "hooks": [],
            "mountOptions": [
                "bind",
                "nodev",
                "noexec",
                "nosuid",
                "rbind",
                "ro",
                "rw"
            ],
            "linux": {
                "namespaces": [
                    "cgroup",
                    "ipc",
                    "mount",
                    "network",
                    "pid",
                    "user",
                    "uts"
                ],
                "cgroup": {
                    "v1": false,
                    "v2": false,
                    "systemd": false,
                    "systemdUser": false,
                    "rdma": false
                },
                "seccomp": {
                    "enabled": false
                },
                "apparmor": {
                    "enabled": false
                },
                "selinux": {
                    "enabled": false
                },
                "intelRdt": {
                    "enabled": false
                },
                "mountExtensions": {
                    "idmap": {
                        "enabled": false
                    }
                }
            },
            "annotations": {
                "org.fc-runtime.version": "\(RuncCommandLine.version)",
                "org.opencontainers.runc.checkpoint.enabled": "false"
            }
        }
        """
    }
}

/// A `LinuxResources` payload as loose JSON, to name what it would change.
enum JSONValue {
    case object([String: JSONValue])
    case array([JSONValue])
    case scalar(isNull: Bool)

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        convert(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]))
    }

    private static func convert(_ any: Any) -> JSONValue {
        if let dictionary = any as? [String: Any] { return .object(dictionary.mapValues(convert)) }
        if let array = any as? [Any] { return .array(array.map(convert)) }
        return .scalar(isNull: any is NSNull)
    }

    /// Dotted paths of the values that are set: non-null scalars and non-empty arrays (nested objects recurse).
    func leaves(prefix: String) -> [String] {
        switch self {
        case .object(let members):
            members.flatMap { $0.value.leaves(prefix: prefix.isEmpty ? $0.key : prefix + "." + $0.key) }
        case .array(let items): items.isEmpty ? [] : [prefix]
        case .scalar(let isNull): isNull ? [] : [prefix]
        }
    }
}

/// A host program's stdout (for `ps` in table format).
enum HostCommand {
    static func output(_ arguments: [String]) throws(RuntimeFailure) -> String {
        do {
            let pipe = try LinuxSystem.Pipe()
            var options = SpawnOptions(arguments: arguments, environment: SelfSpawn.environment)
            options.standardOutput = pipe.writeEnd
            let pid: Int32
            do { pid = try ChildProcess.spawn(options) } catch {
                pipe.close()
                throw error
            }
            pipe.writeEnd.close()
            let bytes = try pipe.readEnd.readToEnd(limit: 16 << 20)
            pipe.readEnd.close()
            let status = try ChildProcess.wait(pid: pid, nonBlocking: false)?.termination
            guard status == .exited(0) else { throw RuntimeFailure("\(arguments[0]) failed: \(status.map { "\($0)" } ?? "?")") }
            return String(decoding: bytes, as: UTF8.self)
        } catch let error as RuntimeFailure {
            throw error
        } catch {
            throw RuntimeFailure("\(arguments[0]): \(error)")
        }
    }
}
