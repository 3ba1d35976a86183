#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Request bodies of the Firecracker v1.16 API, exactly as the official spec names them.
///
/// Firecracker rejects unknown fields (`deny_unknown_fields`), so each body holds only spec fields and nil
/// optionals are omitted from the JSON.
public enum FirecrackerAPI {
    /// `PUT /logger`
    public struct Logger: Encodable, Sendable, Equatable {
        public var logPath: String
        public var level: String = "Info"
        public var showLevel: Bool = true
        public var showLogOrigin: Bool = false
        enum CodingKeys: String, CodingKey {
            case logPath = "log_path", level, showLevel = "show_level", showLogOrigin = "show_log_origin"
        }
        public init(logPath: String) { self.logPath = logPath }
    }

    /// `PUT /machine-config`
    public struct MachineConfig: Encodable, Sendable, Equatable {
        public var vcpuCount: Int
        public var memSizeMib: Int
        enum CodingKeys: String, CodingKey { case vcpuCount = "vcpu_count", memSizeMib = "mem_size_mib" }
        public init(vcpuCount: Int, memSizeMib: Int) { self.vcpuCount = vcpuCount; self.memSizeMib = memSizeMib }
    }

    /// `PUT /boot-source`. `boot_args` replaces Firecracker's default command line entirely.
    public struct BootSource: Encodable, Sendable, Equatable {
        public var kernelImagePath: String
        public var bootArgs: String?
        public var initrdPath: String?
        enum CodingKeys: String, CodingKey {
            case kernelImagePath = "kernel_image_path", bootArgs = "boot_args", initrdPath = "initrd_path"
        }
        public init(kernelImagePath: String, bootArgs: String?, initrdPath: String?) {
            self.kernelImagePath = kernelImagePath; self.bootArgs = bootArgs; self.initrdPath = initrdPath
        }
    }

    /// `PUT /drives/{drive_id}`
    public struct Drive: Encodable, Sendable, Equatable {
        public var driveId: String
        public var pathOnHost: String
        public var isRootDevice: Bool
        public var isReadOnly: Bool
        enum CodingKeys: String, CodingKey {
            case driveId = "drive_id", pathOnHost = "path_on_host", isRootDevice = "is_root_device"
            case isReadOnly = "is_read_only"
        }
        public init(driveId: String, pathOnHost: String, isRootDevice: Bool, isReadOnly: Bool) {
            self.driveId = driveId; self.pathOnHost = pathOnHost; self.isRootDevice = isRootDevice; self.isReadOnly = isReadOnly
        }
    }

    /// `PUT /network-interfaces/{iface_id}`
    public struct NetworkInterface: Encodable, Sendable, Equatable {
        public var ifaceId: String
        public var hostDevName: String
        public var guestMac: String?
        enum CodingKeys: String, CodingKey { case ifaceId = "iface_id", hostDevName = "host_dev_name", guestMac = "guest_mac" }
        public init(ifaceId: String, hostDevName: String, guestMac: String?) {
            self.ifaceId = ifaceId; self.hostDevName = hostDevName; self.guestMac = guestMac
        }
    }

    /// `PUT /vsock`. The Unix socket is bound at this request, so a stale file must be removed first.
    public struct Vsock: Encodable, Sendable, Equatable {
        public var guestCid: UInt32
        public var udsPath: String
        enum CodingKeys: String, CodingKey { case guestCid = "guest_cid", udsPath = "uds_path" }
        public init(guestCid: UInt32, udsPath: String) { self.guestCid = guestCid; self.udsPath = udsPath }
    }

    /// `PUT /metrics`: where Firecracker writes its metrics as JSON lines; allowed once, before boot.
    public struct Metrics: Encodable, Sendable, Equatable {
        public var metricsPath: String
        enum CodingKeys: String, CodingKey { case metricsPath = "metrics_path" }
        public init(metricsPath: String) { self.metricsPath = metricsPath }
    }

    /// `PUT /entropy` (virtio-rng; without it the guest's early getrandom() blocks for about a second).
    public struct Entropy: Encodable, Sendable, Equatable { public init() {} }

    /// `PUT /actions`
    public struct Action: Encodable, Sendable, Equatable {
        public var actionType: String
        enum CodingKeys: String, CodingKey { case actionType = "action_type" }
        public static let instanceStart = Action(actionType: "InstanceStart")
        public static let sendCtrlAltDel = Action(actionType: "SendCtrlAltDel")
        /// Writes one JSON line of metrics to the `PUT /metrics` path now (besides the 60 s period).
        public static let flushMetrics = Action(actionType: "FlushMetrics")
    }

    /// `PATCH /vm`: pauses or resumes a running microVM (v1.16.1 `Vm`; `state` is `Paused` or `Resumed`).
    public struct VMState: Encodable, Sendable, Equatable {
        public var state: String
        public static let paused = VMState(state: "Paused")
        public static let resumed = VMState(state: "Resumed")
    }

    /// `PUT /snapshot/create` (v1.16.1 `SnapshotCreateParams`). The VM must be paused.
    public struct SnapshotCreate: Encodable, Sendable, Equatable {
        public var snapshotType = "Full"
        public var snapshotPath: String
        public var memFilePath: String
        enum CodingKeys: String, CodingKey {
            case snapshotType = "snapshot_type", snapshotPath = "snapshot_path", memFilePath = "mem_file_path"
        }
        public init(snapshotPath: String, memFilePath: String) { self.snapshotPath = snapshotPath; self.memFilePath = memFilePath }
    }

    /// `PUT /snapshot/load` (v1.16.1 `SnapshotLoadParams`): only on a fresh process, before any boot-path
    /// resource; a failed load ends the process.
    public struct SnapshotLoad: Encodable, Sendable, Equatable {
        public struct MemoryBackend: Encodable, Sendable, Equatable {
            public var backendType = "File"
            public var backendPath: String
            enum CodingKeys: String, CodingKey { case backendType = "backend_type", backendPath = "backend_path" }
        }
        public struct NetworkOverride: Encodable, Sendable, Equatable {
            public var ifaceId: String
            public var hostDevName: String
            enum CodingKeys: String, CodingKey { case ifaceId = "iface_id", hostDevName = "host_dev_name" }
            public init(ifaceId: String, hostDevName: String) { self.ifaceId = ifaceId; self.hostDevName = hostDevName }
        }
        public struct VsockOverride: Encodable, Sendable, Equatable {
            public var udsPath: String
            enum CodingKeys: String, CodingKey { case udsPath = "uds_path" }
        }
        public var snapshotPath: String
        public var memBackend: MemoryBackend
        public var resumeVM: Bool
        public var networkOverrides: [NetworkOverride]?
        public var vsockOverride: VsockOverride?
        enum CodingKeys: String, CodingKey {
            case snapshotPath = "snapshot_path", memBackend = "mem_backend", resumeVM = "resume_vm"
            case networkOverrides = "network_overrides", vsockOverride = "vsock_override"
        }
        public init(snapshotPath: String, memoryPath: String, resumeVM: Bool, networkOverrides: [NetworkOverride]?,
                    vsockPath: String?) {
            self.snapshotPath = snapshotPath
            memBackend = MemoryBackend(backendPath: memoryPath)
            self.resumeVM = resumeVM
            self.networkOverrides = networkOverrides
            vsockOverride = vsockPath.map { VsockOverride(udsPath: $0) }
        }
    }

    /// `PATCH /drives/{drive_id}` after a load: the clone's own copy of a writable drive.
    public struct DrivePath: Encodable, Sendable, Equatable {
        public var driveId: String
        public var pathOnHost: String
        enum CodingKeys: String, CodingKey { case driveId = "drive_id", pathOnHost = "path_on_host" }
        public init(driveId: String, pathOnHost: String) { self.driveId = driveId; self.pathOnHost = pathOnHost }
    }

    /// `GET /version`
    public struct Version: Decodable, Sendable { public var firecrackerVersion: String
        enum CodingKeys: String, CodingKey { case firecrackerVersion = "firecracker_version" }
    }

    /// Error body of every 4xx answer.
    public struct Fault: Decodable, Sendable { public var faultMessage: String
        enum CodingKeys: String, CodingKey { case faultMessage = "fault_message" }
    }

    static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The bodies hold strings, integers and booleans only; encoding them cannot fail.
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }
}

/// Firecracker's identifier rules.
public enum FirecrackerIDs {
    /// `--id`: 1–64 characters, ASCII alphanumerics or `-`.
    public static func isValidInstanceID(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// A valid `--id` for any name: the name itself when it is one, else its letters, digits and `-` (at most 47)
    /// and 16 hex digits of its FNV-1a hash, so that `a_b` and `a.b` get different instances.
    public static func instanceID(for name: String) -> String {
        guard !isValidInstanceID(name) else { return name }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let kept = String(decoding: name.utf8.filter { isAlnum($0) || $0 == UInt8(ascii: "-") }.prefix(47), as: UTF8.self)
        let hex = String(hash, radix: 16)
        return kept + "-" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }
}
