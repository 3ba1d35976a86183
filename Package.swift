// swift-tools-version:6.0
import PackageDescription

/// Layers, each depending only on the ones above it:
///   VsockProtocol  — frames, messages, limits, flow control. Pure: no I/O.
///   CLinux         — the few C shims Swift cannot reach safely (fork/exec child path, pty, vsock, reboot).
///   LinuxSystem    — thin typed Swift wrappers over syscalls and an epoll event loop. No policy.
///   VMInit         — the guest agent (PID 1). Never imports Supervisor.
///   Supervisor     — the host side. Never imports VMInit.
let package = Package(
    name: "fc-runtime",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vm-init", targets: ["vm-init"]),
        .executable(name: "fc-supervisor", targets: ["fc-supervisor"]),
        .library(name: "VsockProtocol", targets: ["VsockProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(name: "VsockProtocol"),
        .systemLibrary(name: "CLibcap", path: "Sources/CLibcap"),
        .target(name: "CLinux", dependencies: ["CLibcap"], linkerSettings: [.linkedLibrary("cap")]),
        .target(name: "LinuxSystem", dependencies: ["CLinux"]),
        .target(name: "VMInit", dependencies: ["VsockProtocol", "LinuxSystem", "CLinux"]),
        .target(name: "Supervisor", dependencies: ["VsockProtocol", "LinuxSystem", "CLinux"], exclude: ["Network/NETWORKING.md"]),
        /// libsqlite3 (apt libsqlite3-dev) for the address allocator.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        /// Per-instance IPv6 addresses, unique by a database constraint.
        /// libpq (apt libpq-dev) for the fleet (PostgreSQL) variant of the allocator.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(name: "AddressAllocator", dependencies: ["CSQLite", "CLibPQ"]),
        .executableTarget(name: "fc-addr", dependencies: ["AddressAllocator"]),
        .executableTarget(name: "vm-init", dependencies: ["VMInit"]),
        .executableTarget(
            name: "fc-supervisor",
            dependencies: ["Supervisor", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "fc-bench", dependencies: ["VsockProtocol"], path: "Benchmarks/fc-bench"),
        .testTarget(name: "VsockProtocolTests", dependencies: ["VsockProtocol"]),
        .testTarget(name: "VMInitTests", dependencies: ["VMInit", "VsockProtocol", "LinuxSystem"]),
        .testTarget(name: "AddressAllocatorTests", dependencies: ["AddressAllocator"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "VsockProtocol", "LinuxSystem"]),
        /// Boots real VMs (QEMU, the prebuilt guest kernel) through the fc-supervisor executable.
        .testTarget(name: "E2ETests", dependencies: []),
    ]
)
