@testable import VsockProtocol

/// Messages shared by several tests: the Swift side of the golden vectors, and a random message generator.
enum Samples {
    static let limits = FrameLimits.default

    /// The expected decoding of every valid golden vector, by name (see Protocol/gen_golden_vectors.py).
    static let golden: [String: Frame] = [
        "hello_host_minimal": Frame(.hello(Hello(role: .host))),
        "hello_guest_full": Frame(.hello(Hello(
            role: .guest, agent: "vm-init/0.1", capabilities: ["capabilities", "pty", "rlimits"], limits: limits,
            window: 262_144, wallClockNs: 1_732_560_000_123_456_789,
            bootTimings: ["listening": 5100, "main": 1200, "mounted": 3400]))),
        "exec_minimal": Frame(.exec(ExecRequest(session: 1, argv: ["/bin/true"]))),
        "exec_full": Frame(.exec(ExecRequest(
            session: 42, argv: ["sh", "-c", "echo hi; exit 3"], env: ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            cwd: "/srv/app", user: "app", uid: 1000, gid: 1000, groups: [10, 27], umask: 0o022,
            rlimits: [ResourceLimit(resource: "nofile", soft: 1024, hard: 4096),
                      ResourceLimit(resource: "core", soft: 0, hard: 0)],
            capabilities: ["CAP_NET_BIND_SERVICE"], noNewPrivs: true, tty: TerminalSize(rows: 24, cols: 80),
            stdin: true, timeoutMs: 30_000))),
        "exec_unicode_argv": Frame(.exec(ExecRequest(session: UInt32.max, argv: ["echo", "héllo ✓", "a\"b\\c"]))),
        "started": Frame(.started(Started(session: 1, pid: 137))),
        "start_failed_enoent": Frame(.startFailed(StartFailed(
            session: 2, errno: 2, stage: "exec", message: "execve /nonexistent: No such file or directory"))),
        "stdin_with_payload": Frame(.stdin(SessionRef(session: 1)), payload: Array("hello\n".utf8)),
        "stdin_empty_payload": Frame(.stdin(SessionRef(session: 1))),
        "stdin_close": Frame(.stdinClose(SessionRef(session: 1))),
        "stdout_binary_payload": Frame(.stdout(SessionRef(session: 1)), payload: [0x00, 0xFF, 0x0A, 0x7B, 0x22]),
        "stderr_with_payload": Frame(.stderr(SessionRef(session: 3)), payload: Array("warning: x\n".utf8)),
        "window": Frame(.window(WindowUpdate(session: 1, bytes: 524_288))),
        "signal_sigterm": Frame(.signal(SignalRequest(session: 1, signal: 15))),
        "resize": Frame(.resize(ResizeRequest(session: 1, rows: 50, cols: 132))),
        "exit_code_zero": Frame(.exit(ExitReport(session: 1, status: ExitStatus(code: 0)))),
        "exit_code_seven_truncated": Frame(.exit(ExitReport(session: 5, status: ExitStatus(code: 7, outputTruncated: true)))),
        "exit_killed_sigkill_oom": Frame(.exit(ExitReport(session: 1, status: ExitStatus(signal: 9, oomKilled: true)))),
        "exit_sigsegv_core": Frame(.exit(ExitReport(session: 9, status: ExitStatus(signal: 11, coreDumped: true)))),
        "exit_ack": Frame(.exitAck(SessionRef(session: 1))),
        "attach": Frame(.attach(SessionRef(session: 7))),
        "sessions_request": Frame(.sessions(SessionList())),
        "sessions_reply": Frame(.sessions(SessionList(sessions: [
            SessionInfo(session: 1, pid: 137, state: "running", argv0: "sleep", attached: false, exit: nil),
            SessionInfo(session: 2, pid: 140, state: "exited", argv0: "sh", attached: false,
                        exit: ExitStatus(signal: 15)),
        ]))),
        "ping": Frame(.ping(Ping(id: 1))),
        "pong_large_id": Frame(.pong(Ping(id: 9_007_199_254_740_993))),
        "set_time": Frame(.setTime(SetTime(unixNs: 1_732_560_000_000_000_000))),
        "shutdown_default": Frame(.shutdown(ShutdownRequest())),
        "shutdown_full": Frame(.shutdown(ShutdownRequest(mode: .poweroff, graceMs: 5000))),
        "hello_client_control_socket": Frame(.hello(Hello(role: .client, agent: "worker/1.0"))),
        "hello_supervisor_control_socket": Frame(.hello(Hello(role: .supervisor, agent: "fc-supervisor/0.1",
                                                              capabilities: ["pty", "stdin_descriptor", "output_descriptors"],
                                                              wallClockNs: 1_732_560_000_123_456_789))),
        "signal_all_control_socket": Frame(.signal(SignalRequest(session: 0, signal: 9, all: true))),
        "lifecycle_start": Frame(.lifecycle(LifecycleRequest(action: .start))),
        "lifecycle_pause": Frame(.lifecycle(LifecycleRequest(action: .pause))),
        "lifecycle_done_start": Frame(.lifecycleDone(LifecycleDone(action: .start, pid: 42))),
        "lifecycle_done_resume": Frame(.lifecycleDone(LifecycleDone(action: .resume))),
        "lifecycle_checkpoint": Frame(.lifecycle(LifecycleRequest(action: .checkpoint, imagePath: "/var/lib/ckpt/job-1.partial",
                                                                  leaveRunning: true))),
        "lifecycle_done_checkpoint": Frame(.lifecycleDone(LifecycleDone(action: .checkpoint))),
        "error_lifecycle_invalid_state": Frame(.error(ErrorMessage(code: .invalidState,
                                                                   message: "cannot start an already running container"))),
        "signal_workload_session_0": Frame(.signal(SignalRequest(session: 0, signal: 15))),
        "exec_control_socket": Frame(.exec(ExecRequest(session: 1, argv: ["ls", "-l"], tty: TerminalSize(rows: 24, cols: 80),
                                                       stdin: true))),
        "exec_stdin_descriptor_control_socket": Frame(.exec(ExecRequest(session: 1, argv: ["sh", "-c", "cat > /dev/null"],
                                                                        stdin: true, stdinDescriptor: true))),
        "exec_output_descriptors_control_socket": Frame(.exec(ExecRequest(session: 1, argv: ["dd", "if=/dev/zero", "bs=1M", "count=256"],
                                                                          stdoutDescriptor: true, stderrDescriptor: true))),
        "fraction_in_unknown_field_ignored": Frame(.ping(Ping(id: 7))),
        "error_connection": Frame(.error(ErrorMessage(code: .unknownMessage, message: "unknown message type \"detach\""))),
        "error_session": Frame(.error(ErrorMessage(code: .unknownSession, message: "no session 9", session: 9))),
        "network_full": Frame(.network(NetworkConfig(
            interfaces: [NetworkInterfaceConfig(mac: "02:fc:00:00:00:01", mtu: 1500,
                                                addresses: ["fd00:1::5/64", "10.0.0.2/24"])],
            routes: [NetworkRoute(destination: "default", gateway: "fd00:1::1"),
                     NetworkRoute(destination: "10.1.0.0/16", gateway: "10.0.0.1", interface: "eth0", metric: 100)],
            dns: DNSConfig(servers: ["fd00:1::1"], search: ["internal"]),
            hosts: [HostsEntry(address: "fd00:1::1", names: ["gateway"])], hostname: "vm-1"))),
        "network_empty": Frame(.network(NetworkConfig())),
        "network_applied": Frame(.networkApplied(NetworkApplied(interfaces: ["eth0"]))),
        "exec_oom_score_adj": Frame(.exec(ExecRequest(session: 3, argv: ["sh"], oomScoreAdj: -999))),
        "container_full": Frame(.container(ContainerRequest(
            root: ContainerRoot(source: "/dev/vda", type: "ext4", options: ["ro"], writable: true),
            mounts: [ContainerMount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
                     ContainerMount(destination: "/dev", type: "tmpfs", source: "tmpfs",
                                    options: ["nosuid", "strictatime", "mode=755"]),
                     ContainerMount(destination: "/sys/fs/cgroup", type: "cgroup")],
            files: [ContainerFile(path: "/etc/resolv.conf", mode: 0o644, bytes: Array("nameserver 10.0.0.1\n".utf8))],
            hostname: "c1", check: ContainerCheck(argv0: "sh", path: "/usr/sbin:/usr/bin:/sbin:/bin", cwd: "/"),
            resources: ContainerResources(memoryMax: 64 << 20, pidsMax: 2048)))),
        "container_minimal": Frame(.container(ContainerRequest(root: ContainerRoot(source: "/dev/vda", type: "erofs",
                                                                                   writable: false)))),
        "container_ready": Frame(.containerReady(ContainerReady(root: "/"))),
        "container_ready_empty": Frame(.containerReady(ContainerReady())),
        "freeze_default": Frame(.freeze(FreezeRequest())),
        "freeze_timeout": Frame(.freeze(FreezeRequest(timeoutMs: 5000))),
        "frozen_cgroup": Frame(.frozen(FrozenReport(
            method: .cgroup, sessions: [FrozenSession(session: 1, pid: 12, attached: true),
                                        FrozenSession(session: 3, pid: nil, attached: false)],
            fsfreeze: ["/mnt/data"], sync: true,
            timingsUs: FreezeTimings(freeze: 850, sync: 1200, fsfreeze: 300, flush: 150, total: 2500)))),
        "frozen_sigstop_nothing_running": Frame(.frozen(FrozenReport(
            method: .sigstop, sessions: [], fsfreeze: [], sync: true,
            timingsUs: FreezeTimings(freeze: 0, sync: 900, fsfreeze: 0, flush: 0, total: 950)))),
        "thaw": Frame(.thaw(ThawRequest())),
        "thawed": Frame(.thawed(ThawedReport())),
        "resume_full": Frame(.resume(ResumeRequest(
            unixNs: 1_764_500_000_000_000_000, generation: 2, entropyBytes: Array(0..<16), keep: [1], hostname: "clone-b",
            network: NetworkConfig(interfaces: [NetworkInterfaceConfig(mac: "02:fc:00:00:00:02", addresses: ["10.0.0.3/24"])],
                                   routes: [NetworkRoute(destination: "default", gateway: "10.0.0.1")])))),
        "resume_minimal": Frame(.resume(ResumeRequest(unixNs: -1, generation: UInt64.max, entropy: "AAECAwQFBgcICQoLDA0ODw=="))),
        "resumed": Frame(.resumed(ResumedReport(
            generation: 2, clockStepNs: -5_003_000_000, rngReseeded: true, lost: [3, 4],
            timingsUs: ResumeTimings(clock: 20, rng: 35, identity: 10, network: 0, thaw: 400, total: 480)))),
        "resumed_clock_not_set": Frame(.resumed(ResumedReport(
            generation: 3, clockStepNs: nil, rngReseeded: false, lost: [],
            timingsUs: ResumeTimings(clock: 5, rng: 8, identity: 0, network: 0, thaw: 120, total: 140)))),
        "exit_lost_snapshot": Frame(.exit(ExitReport(session: 3, status: ExitStatus(signal: 9, lost: ExitStatus.lostSnapshot)))),
        "stats": Frame(.stats(StatsRequest(id: 7))),
        "stats_report": Frame(.statsReport(StatsReport(
            id: 7, unixNs: 1_764_500_000_123_456_789, uptimeNs: 84_600_000_000,
            memory: GuestMemoryStats(totalBytes: 243_269_632, availableBytes: 201_326_592, freeBytes: 180_355_072),
            cpu: GuestCPUStats(userNs: 2_470_000_000, systemNs: 910_000_000, idleNs: 81_230_000_000, count: 1),
            loadMilli: [120, 50, 10], tasks: 83, oomKills: 0,
            sessions: [SessionStats(session: 1, pid: 42, cpuNs: 40_512_000, cpuUserNs: 20_412_000, cpuSystemNs: 20_100_000,
                                    memoryBytes: 1_245_184, memoryPeakBytes: 2_097_152, pids: 1, oomEvents: 0, oomKills: 0)]))),
        "stats_report_without_cgroups": Frame(.statsReport(StatsReport(id: 8, unixNs: -1,
                                                                       sessions: [SessionStats(session: 3, pid: 9)]))),
        // decode-only vectors
        "unknown_optional_fields_ignored": Frame(.started(Started(session: 1, pid: 2))),
        "whitespace_unsorted_escaped": Frame(.stdout(SessionRef(session: 3)), payload: Array("ok".utf8)),
        "exit_without_status_field": Frame(.exit(ExitReport(session: 2, status: ExitStatus(signal: 2)))),
        "unicode_escapes_in_strings": Frame(.exec(ExecRequest(session: 1, argv: ["hé/"]))),
    ]

    // MARK: - Random messages

    static func string(_ rng: inout SplitMix64, maxLength: Int = 12) -> String {
        let pools: [ClosedRange<UInt32>] = [0x20...0x7E, 0x00...0x1F, 0xA0...0x24F, 0x4E00...0x4E80, 0x1F600...0x1F64F]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.below(maxLength + 1) {
            let pool = pools[rng.chance(70) ? 0 : rng.below(pools.count)]
            let v = pool.lowerBound + UInt32(rng.below(Int(pool.upperBound - pool.lowerBound) + 1))
            if let scalar = Unicode.Scalar(v) { s.append(scalar) }
        }
        return String(s)
    }

    static func strings(_ rng: inout SplitMix64, max: Int = 4) -> [String] {
        (0..<rng.below(max + 1)).map { _ in string(&rng) }
    }

    static func maybe<T>(_ rng: inout SplitMix64, _ make: (inout SplitMix64) -> T) -> T? {
        rng.chance(50) ? make(&rng) : nil
    }

    static func u32(_ rng: inout SplitMix64) -> UInt32 {
        rng.chance(30) ? UInt32(rng.below(4)) : UInt32(truncatingIfNeeded: rng.next())
    }
    static func i32(_ rng: inout SplitMix64) -> Int32 { Int32(truncatingIfNeeded: rng.next()) }
    static func u16(_ rng: inout SplitMix64) -> UInt16 { UInt16(truncatingIfNeeded: rng.next()) }

    static func exitStatus(_ rng: inout SplitMix64) -> ExitStatus {
        ExitStatus(code: maybe(&rng) { Int32($0.below(256)) }, signal: maybe(&rng) { Int32($0.below(64) + 1) },
                   coreDumped: rng.chance(50), oomKilled: rng.chance(50), outputTruncated: rng.chance(50),
                   lost: maybe(&rng) { $0.chance(50) ? ExitStatus.lostSnapshot : string(&$0) })
    }

    /// A random message of a random (or the given) type, with random field values, and a payload when the
    /// type carries one.
    static func randomFrame(_ rng: inout SplitMix64, typeIndex: Int? = nil, maxPayload: Int = 64) -> Frame {
        let s = u32(&rng)
        let ref = SessionRef(session: s)
        let message: Message
        switch typeIndex ?? rng.below(Self.typeCount) {
        case 0:
            message = .hello(Hello(
                version: rng.below(3), role: rng.chance(50) ? .host : .guest, agent: maybe(&rng) { string(&$0) },
                capabilities: strings(&rng),
                limits: FrameLimits(maxHeaderBytes: u32(&rng), maxPayloadBytes: u32(&rng)), window: u32(&rng),
                wallClockNs: maybe(&rng) { Int64(bitPattern: $0.next()) },
                bootTimings: maybe(&rng) { r in
                    Dictionary((0..<r.below(4)).map { _ in (string(&r), r.next()) }, uniquingKeysWith: { a, _ in a })
                }))
        case 1:
            message = .exec(ExecRequest(
                session: s, argv: strings(&rng), env: maybe(&rng) { strings(&$0) }, cwd: maybe(&rng) { string(&$0) },
                user: maybe(&rng) { string(&$0) }, uid: maybe(&rng) { u32(&$0) }, gid: maybe(&rng) { u32(&$0) },
                groups: maybe(&rng) { r in (0..<r.below(4)).map { _ in u32(&r) } }, umask: maybe(&rng) { u32(&$0) },
                rlimits: maybe(&rng) { r in
                    (0..<r.below(3)).map { _ in ResourceLimit(resource: string(&r), soft: r.next(), hard: r.next()) }
                },
                capabilities: maybe(&rng) { strings(&$0) }, noNewPrivs: maybe(&rng) { $0.chance(50) },
                tty: maybe(&rng) { TerminalSize(rows: u16(&$0), cols: u16(&$0)) }, stdin: maybe(&rng) { $0.chance(50) },
                timeoutMs: maybe(&rng) { $0.next() },
                oomScoreAdj: maybe(&rng) { Int32($0.below(2001)) - 1000 }, stdinDescriptor: maybe(&rng) { $0.chance(50) },
                stdoutDescriptor: maybe(&rng) { $0.chance(50) }, stderrDescriptor: maybe(&rng) { $0.chance(50) }))
        case 2: message = .started(Started(session: s, pid: i32(&rng)))
        case 3: message = .startFailed(StartFailed(session: s, errno: i32(&rng), stage: SpawnStage(rawValue: string(&rng)),
                                                   message: string(&rng, maxLength: 40)))
        case 4: message = .stdin(ref)
        case 5: message = .stdinClose(ref)
        case 6: message = .stdout(ref)
        case 7: message = .stderr(ref)
        case 8: message = .window(WindowUpdate(session: s, bytes: u32(&rng)))
        case 9: message = .signal(SignalRequest(session: s, signal: i32(&rng), all: maybe(&rng) { $0.chance(50) }))
        case 10: message = .resize(ResizeRequest(session: s, rows: u16(&rng), cols: u16(&rng)))
        case 11: message = .exit(ExitReport(session: s, status: exitStatus(&rng)))
        case 12: message = .exitAck(ref)
        case 13: message = .attach(ref)
        case 14:
            message = .sessions(SessionList(sessions: maybe(&rng) { r in
                (0..<r.below(3)).map { _ in
                    SessionInfo(session: u32(&r), pid: maybe(&r) { i32(&$0) }, state: r.chance(50) ? "running" : "exited",
                                argv0: maybe(&r) { string(&$0) }, attached: r.chance(50),
                                exit: maybe(&r) { exitStatus(&$0) })
                }
            }))
        case 15: message = .ping(Ping(id: rng.next()))
        case 16: message = .pong(Ping(id: rng.next()))
        case 17: message = .setTime(SetTime(unixNs: Int64(bitPattern: rng.next())))
        case 18: message = .shutdown(ShutdownRequest(mode: maybe(&rng) { $0.chance(50) ? "reboot" : "poweroff" },
                                                     graceMs: maybe(&rng) { u32(&$0) }))
        case 19:
            message = .network(NetworkConfig(
                interfaces: maybe(&rng) { r in
                    (0..<r.below(3)).map { _ in
                        NetworkInterfaceConfig(name: maybe(&r) { string(&$0) }, mac: maybe(&r) { string(&$0) },
                                               mtu: maybe(&r) { u32(&$0) }, addresses: maybe(&r) { strings(&$0) })
                    }
                },
                routes: maybe(&rng) { r in
                    (0..<r.below(3)).map { _ in
                        NetworkRoute(destination: string(&r), gateway: maybe(&r) { string(&$0) },
                                     interface: maybe(&r) { string(&$0) }, metric: maybe(&r) { u32(&$0) })
                    }
                },
                dns: maybe(&rng) { DNSConfig(servers: maybe(&$0) { strings(&$0) }, search: maybe(&$0) { strings(&$0) }) },
                hosts: maybe(&rng) { r in (0..<r.below(3)).map { _ in HostsEntry(address: string(&r), names: strings(&r)) } },
                hostname: maybe(&rng) { string(&$0) }))
        case 20: message = .networkApplied(NetworkApplied(interfaces: maybe(&rng) { strings(&$0) }))
        case 21:
            let options: (inout SplitMix64) -> [String]? = { r in maybe(&r) { strings(&$0) } }
            message = .container(ContainerRequest(
                root: ContainerRoot(source: string(&rng), type: string(&rng), options: options(&rng), writable: rng.chance(50)),
                mounts: maybe(&rng) { r in
                    (0..<r.below(3)).map { _ in
                        ContainerMount(destination: string(&r), type: string(&r), source: maybe(&r) { string(&$0) },
                                       options: options(&r))
                    }
                },
                files: maybe(&rng) { r in
                    (0..<r.below(3)).map { _ in
                        ContainerFile(path: string(&r), mode: maybe(&r) { UInt32($0.below(0o10000)) }, bytes: r.bytes(r.below(20)))
                    }
                },
                hostname: maybe(&rng) { string(&$0) },
                check: maybe(&rng) { ContainerCheck(argv0: string(&$0), path: maybe(&$0) { string(&$0) }, cwd: maybe(&$0) { string(&$0) }) }))
        case 22: message = .containerReady(ContainerReady(root: maybe(&rng) { string(&$0) }))
        case 23: message = .lifecycle(LifecycleRequest(action: lifecycleAction(&rng)))
        case 24: message = .lifecycleDone(LifecycleDone(action: lifecycleAction(&rng), pid: maybe(&rng) { i32(&$0) }))
        case 25: message = .freeze(FreezeRequest(timeoutMs: maybe(&rng) { UInt32($0.below(60000) + 1) }))
        case 26:
            let timings = FreezeTimings(freeze: rng.next(), sync: rng.next(), fsfreeze: rng.next(), flush: rng.next(),
                                        total: rng.next())
            message = .frozen(FrozenReport(
                method: rng.chance(80) ? FreezeMethod.allDefined[rng.below(2)] : FreezeMethod(rawValue: string(&rng)),
                sessions: (0..<rng.below(3)).map { _ in
                    FrozenSession(session: u32(&rng), pid: maybe(&rng) { i32(&$0) }, attached: rng.chance(50))
                },
                fsfreeze: strings(&rng), sync: rng.chance(50), timingsUs: timings))
        case 27: message = .thaw(ThawRequest())
        case 28:
            message = .resume(ResumeRequest(
                unixNs: Int64(bitPattern: rng.next()), generation: rng.next(),
                entropyBytes: rng.bytes(ResumeRequest.entropyBytes.lowerBound + rng.below(ResumeRequest.entropyBytes.count)),
                keep: maybe(&rng) { r in (0..<r.below(3)).map { _ in u32(&r) } }, hostname: maybe(&rng) { string(&$0) },
                network: maybe(&rng) { NetworkConfig(hostname: maybe(&$0) { string(&$0) }) }))
        case 29:
            let timings = ResumeTimings(clock: rng.next(), rng: rng.next(), identity: rng.next(), network: rng.next(),
                                        thaw: rng.next(), total: rng.next())
            message = .resumed(ResumedReport(
                generation: rng.next(), clockStepNs: maybe(&rng) { Int64(bitPattern: $0.next()) }, rngReseeded: rng.chance(50),
                lost: (0..<rng.below(3)).map { _ in u32(&rng) }, timingsUs: timings))
        case 30: message = .thawed(ThawedReport())
        case 31: message = .stats(StatsRequest(id: rng.next()))
        case 32:
            message = .statsReport(StatsReport(
                id: rng.next(), unixNs: Int64(bitPattern: rng.next()), uptimeNs: maybe(&rng) { $0.next() },
                memory: maybe(&rng) { GuestMemoryStats(totalBytes: $0.next(), availableBytes: $0.next(), freeBytes: maybe(&$0) { $0.next() }) },
                cpu: maybe(&rng) { GuestCPUStats(userNs: $0.next(), systemNs: $0.next(), idleNs: $0.next(), count: u32(&$0)) },
                loadMilli: maybe(&rng) { r in [u32(&r), u32(&r), u32(&r)] }, tasks: maybe(&rng) { u32(&$0) },
                oomKills: maybe(&rng) { $0.next() },
                sessions: maybe(&rng) { r in (0..<r.below(3)).map { _ in
                    SessionStats(session: u32(&r), pid: maybe(&r) { i32(&$0) }, cpuNs: maybe(&r) { $0.next() },
                                 memoryBytes: maybe(&r) { $0.next() }, pids: maybe(&r) { u32(&$0) }, oomKills: maybe(&r) { $0.next() })
                } }))
        default:
            let code = rng.chance(80) ? ErrorCode.allDefined[rng.below(ErrorCode.allDefined.count)]
                                      : ErrorCode(rawValue: string(&rng))
            message = .error(ErrorMessage(code: code, message: string(&rng, maxLength: 40),
                                          session: maybe(&rng) { u32(&$0) }))
        }
        let payload = message.carriesPayload ? rng.bytes(rng.below(maxPayload + 1)) : []
        return Frame(message, payload: payload)
    }

    /// Number of message types `randomFrame(typeIndex:)` covers.
    static let typeCount = 34

    private static func lifecycleAction(_ rng: inout SplitMix64) -> LifecycleAction {
        rng.chance(80) ? LifecycleAction.allDefined[rng.below(LifecycleAction.allDefined.count)] : LifecycleAction(rawValue: string(&rng))
    }
}
