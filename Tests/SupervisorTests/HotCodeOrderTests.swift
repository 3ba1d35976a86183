import Foundation
import Glibc
import TestSupport
import Testing

/// scripts/supervisor-order.sh (`make fc-supervisor-order`): a supervisor serving a simulator VM under callgrind
/// yields the functions it ran, all of them symbols of the profiled build, from its entry to the loop that serves
/// the guest. Run here on the debug build (the Makefile's target profiles the static one): what is checked is the
/// profile itself, which the static link then lays out first.
/// Not under a sanitizer (`make check-sanitizers` sets FC_SANITIZER): valgrind cannot run an ASan or TSan build.
@Suite(.disabled(if: getenv("FC_SANITIZER") != nil, "valgrind cannot run a sanitizer build"))
struct HotCodeOrderTests {
    @Test func profileNamesTheFunctionsTheSupervisorRan() throws {
        try #require(access(RepoPath.file("build/vm-init"), X_OK) == 0, "no build/vm-init (make vm-init-static)")
        try #require(access("/usr/bin/valgrind", X_OK) == 0, "no valgrind (make deps)")
        let binary = try BuiltProduct.path("fc-supervisor")
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-hotcode-")
        defer { dir.remove() }
        let out = dir.file("fc-supervisor.order")
        let run = try runToEnd("/bin/bash", [RepoPath.file("scripts/supervisor-order.sh"), binary, out], timeout: 300)
        try #require(run.exitCode == 0, "supervisor-order.sh failed: \(run.stderr)")
        let names = (FileContents.text(out) ?? "").split(separator: "\n").map(String.init)
        let defined = Set(try runToEnd("/usr/bin/nm", ["--defined-only", binary]).stdout
            .split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        #expect(names.count > 500, "\(names.count) functions")
        #expect(Set(names).count == names.count, "a function listed twice")
        let unknown = names.filter { !defined.contains($0) }
        #expect(unknown.isEmpty, "not symbols of this build: \(unknown.prefix(5))")
        // The Swift entry, the event loop and the frame decoder of the guest connection all ran.
        for part in ["fc_supervisor_main", "EventLoop", "FrameDecoder"] {
            let ran = names.contains { $0.contains(part) }
            #expect(ran, "no \(part) function among \(names.count)")
        }
    }
}
