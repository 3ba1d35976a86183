import Glibc
import LinuxSystem
import Testing
import VsockProtocol
import VsockTransport

@Suite struct ListenerTests {
    @Test func vsockAdmitsOnlyTheHostCID() {
        let kind = Listener.Kind.vsock(allowedCID: VsockSocket.hostCID)
        #expect(kind.admits(cid: 2))
        for cid: UInt32 in [0, 1, 3, 4, 42, UInt32.max - 1, UInt32.max] {
            #expect(!kind.admits(cid: cid), "CID \(cid)")
        }
        #expect(Listener.Kind.unix.admits(cid: 7))
    }

    @Test func unixListenerAcceptsEveryPendingConnection() throws {
        let path = temporarySocketPath()
        defer { unlink(path) }
        let loop = try EventLoop()
        let listener = try Listener.unix(path: path, loop: loop)
        var accepted: [FileDescriptor] = []
        listener.onAccept = { fd, cid, _ in #expect(cid == nil); accepted.append(fd) }
        try listener.start()
        let clients = try (0..<3).map { _ in try UnixSocket.connect(path: path) }
        #expect(try runLoop(loop, until: { accepted.count == 3 }, timeout: .seconds(5)))
        for fd in clients + accepted { fd.close() }
        listener.close()
    }

    /// Out of descriptors, the level-triggered listener stays readable: it must back off (not spin the loop)
    /// and accept the waiting client once descriptors are free again. Run in a forked child, since it lowers
    /// RLIMIT_NOFILE and fills the descriptor table.
    @Test func acceptBacksOffWhenOutOfDescriptorsAndRecovers() throws {
        let path = temporarySocketPath()
        defer { unlink(path) }
        var ready: [Int32] = [-1, -1]
        #expect(pipe(&ready) == 0)
        let child = fork()
        if child == 0 {
            Glibc.close(ready[0])
            _exit(emfileChild(path: path, ready: ready[1]))
        }
        Glibc.close(ready[1])
        var byte: UInt8 = 0
        #expect(read(ready[0], &byte, 1) == 1, "child did not get ready")
        Glibc.close(ready[0])
        // The connect completes in the backlog although the child cannot accept it yet.
        let client = try UnixSocket.connect(path: path)
        defer { client.close() }
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        let code = (status >> 8) & 0xff
        #expect(status & 0x7f == 0 && code == 0, """
            child: \(["0": "ok", "10": "the loop spun while out of descriptors", "11": "no back-off",
                      "12": "no accept after descriptors were freed", "13": "accepted while out of descriptors",
                      "2": "setup failed"]["\(code)"] ?? "status \(status)")
            """)
    }
}

/// The forked child's side of the EMFILE test; returns its exit code.
private func emfileChild(path: String, ready: Int32) -> Int32 {
    guard let loop = try? EventLoop(), let listener = try? Listener.unix(path: path, loop: loop) else { return 2 }
    var accepted = 0
    listener.onAccept = { fd, _, _ in accepted += 1; fd.close() }
    guard (try? listener.start()) != nil else { return 2 }
    // Fill the descriptor table under a low limit.
    var limit = rlimit(rlim_cur: 256, rlim_max: 256)
    var current = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &current)
    limit.rlim_max = current.rlim_max
    guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 2 }
    var filler: [Int32] = []
    while true {
        let fd = dup(ready)
        if fd < 0 { break }
        filler.append(fd)
    }
    guard errno == EMFILE else { return 2 }
    var one: UInt8 = 1
    guard write(ready, &one, 1) == 1 else { return 2 }
    Glibc.close(ready)  // frees one descriptor: take it back so the table stays full
    filler.append(dup(filler[0]))

    let cpuBefore = cpuMicroseconds()
    _ = try? runLoop(loop, until: { false }, timeout: .milliseconds(600))
    let spent = cpuMicroseconds() - cpuBefore
    if accepted != 0 { return 13 }
    if spent > 300_000 { return 10 }
    if listener.backOffCount < 2 { return 11 }
    for fd in filler { Glibc.close(fd) }
    let recovered = (try? runLoop(loop, until: { accepted == 1 }, timeout: .seconds(3))) ?? false
    return recovered ? 0 : 12
}

private func cpuMicroseconds() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
}

func temporarySocketPath() -> String {
    "/tmp/vsock-transport-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}
