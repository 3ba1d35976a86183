// swift-tools-version:6.0
import PackageDescription

/// Layers, each importing only what its `dependencies` list names (checked by
/// `swift build --explicit-target-dependency-import-check error`, see README "Layout"):
///   VsockProtocol   — the wire format: frames, messages, limits, credit windows, the §7 connection state. Pure.
///   CLinux          — the few C shims Swift cannot reach safely (fork/exec child path, pty, vsock, reboot).
///   LinuxSystem     — the only door to libc: typed syscall wrappers and an epoll event loop. No policy.
///   VsockTransport  — streams that carry frames: FramedConnection, FrameChannel, Listener, serial port, hybrid vsock.
///   VMInit          — the guest agent (PID 1). Never imports anything host-side.
///   FirecrackerAPI  — Firecracker's HTTP API over its Unix socket. No orchestration types.
///   VMM             — VMM processes and host devices: Firecracker and QEMU drivers, QMP, host network.
///   Supervisor      — one VM from boot to cleanup: lifecycle, guest multiplexer, control server, stdio.
///   SupervisorCLI   — the command line (ArgumentParser), exec client and control commands.
///   OCIRuntime      — OCI bundles and runc's data: config.json mapping, state JSON, the rootfs image cache.
///   ImageStore      — images on disk: references, the content-addressed store, tar layers, bundles. No network.
///   ImageRegistry   — the distribution v2 API over AsyncHTTPClient: pulls into an ImageStore (fc-image only).
let package = Package(
    name: "fc-runtime",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vm-init", targets: ["vm-init"]),
        .executable(name: "fc-supervisor", targets: ["fc-supervisor"]),
        .executable(name: "fc-image", targets: ["fc-image"]),
        .library(name: "VsockProtocol", targets: ["VsockProtocol"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        .target(name: "VsockProtocol"),
        .systemLibrary(name: "CLibcap", path: "Sources/CLibcap"),
        .target(name: "CLinux", dependencies: ["CLibcap"], linkerSettings: [.linkedLibrary("cap")]),
        .target(name: "LinuxSystem", dependencies: ["CLinux"]),
        .target(name: "VsockTransport", dependencies: ["VsockProtocol", "LinuxSystem"]),
        .target(name: "VMInit", dependencies: ["VsockProtocol", "VsockTransport", "LinuxSystem", "CLinux"]),
        .target(name: "FirecrackerAPI", dependencies: ["LinuxSystem"]),
        .target(name: "VMM", dependencies: ["FirecrackerAPI", "VsockTransport", "VsockProtocol", "LinuxSystem", "CLinux"],
                exclude: ["NETWORKING.md"]),
        .target(name: "Supervisor", dependencies: ["VMM", "FirecrackerAPI", "VsockTransport", "VsockProtocol", "LinuxSystem", "CLinux"]),
        .target(name: "OCIRuntime", dependencies: ["VMM", "VsockProtocol", "LinuxSystem"]),
        .target(name: "SupervisorCLI", dependencies: [
            "Supervisor", "OCIRuntime", "VMM", "VsockTransport", "VsockProtocol", "LinuxSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        /// libsqlite3 (apt libsqlite3-dev) for the address allocator.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        /// Per-instance IPv6 addresses, unique by a database constraint.
        /// libpq (apt libpq-dev) for the fleet (PostgreSQL) variant of the allocator.
        .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(name: "AddressAllocator", dependencies: ["CSQLite", "CLibPQ"]),
        .executableTarget(name: "fc-addr", dependencies: [
            "AddressAllocator", "LinuxSystem", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        /// zlib and libzstd (apt zlib1g-dev, libzstd-dev): streaming layer decompression, one code path for both.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd"),
        /// libcrypto (apt libssl-dev): SHA-256 at disk speed for every blob byte (see Digest.swift).
        .systemLibrary(name: "CLibcrypto", path: "Sources/CLibcrypto"),
        /// Images on disk: references, the content-addressed cache, tar layers with whiteouts, bundles. No network.
        .target(name: "ImageStore", dependencies: ["OCIRuntime", "LinuxSystem", "CZlib", "CZstd", "CLibcrypto"]),
        /// The distribution v2 API (AsyncHTTPClient/NIO), kept out of fc-supervisor: see Sources/fc-image/README.md.
        .target(name: "ImageRegistry", dependencies: [
            "ImageStore", "LinuxSystem", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "fc-image", dependencies: [
            "ImageRegistry", "ImageStore", "LinuxSystem",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["README.md"]),
        .executableTarget(name: "vm-init", dependencies: ["VMInit", "LinuxSystem"]),
        .executableTarget(name: "fc-supervisor", dependencies: ["SupervisorCLI", "Supervisor", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "fc-bench", dependencies: ["VsockProtocol"], path: "Benchmarks/fc-bench"),
        /// Test helpers every test target shares: built binaries, temp dirs, child processes, deadlines.
        .target(name: "TestSupport", dependencies: ["LinuxSystem", "VsockProtocol", "VsockTransport"], path: "Tests/TestSupport"),
        .testTarget(name: "VsockProtocolTests", dependencies: ["VsockProtocol", "TestSupport"]),
        .testTarget(name: "LinuxSystemTests", dependencies: ["LinuxSystem", "CLinux", "TestSupport"]),
        .testTarget(name: "VsockTransportTests", dependencies: ["VsockTransport", "VsockProtocol", "LinuxSystem", "TestSupport"]),
        .testTarget(name: "VMInitTests", dependencies: ["VMInit", "VsockProtocol", "LinuxSystem", "TestSupport"]),
        .testTarget(name: "FirecrackerAPITests", dependencies: ["FirecrackerAPI", "LinuxSystem", "TestSupport"]),
        .testTarget(name: "AddressAllocatorTests", dependencies: ["AddressAllocator", "TestSupport"]),
        .testTarget(name: "SupervisorTests", dependencies: ["Supervisor", "VMM", "VsockProtocol", "VsockTransport", "LinuxSystem", "TestSupport"]),
        .testTarget(name: "OCIRuntimeTests", dependencies: ["OCIRuntime", "VMM", "VsockProtocol", "LinuxSystem", "TestSupport"]),
        .testTarget(name: "SupervisorCLITests", dependencies: ["SupervisorCLI", "OCIRuntime", "Supervisor", "LinuxSystem", "VsockProtocol", "TestSupport"]),
        .testTarget(name: "ImageStoreTests", dependencies: ["ImageStore", "ImageRegistry", "OCIRuntime", "LinuxSystem", "TestSupport"]),
        /// Boots real VMs (QEMU, the prebuilt guest kernel) through the fc-supervisor executable.
        .testTarget(name: "E2ETests", dependencies: ["TestSupport"]),
    ]
)
