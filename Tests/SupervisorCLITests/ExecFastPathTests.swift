import Testing

@testable import SupervisorCLI

/// `ExecFastPath` skips ArgumentParser for the plain forms of `fc-supervisor exec`. It may decline any
/// command line (nil: ArgumentParser takes it), but what it accepts it must read exactly as `Exec` does.
@Suite struct ExecFastPathTests {
    /// The fast path's verdict on `arguments` against ArgumentParser's, as a failure message (nil: they agree).
    private func disagreement(_ arguments: [String]) -> String? {
        let full = ["fc-supervisor", "exec"] + arguments
        guard let fast = ExecFastPath.parse(full) else { return nil }
        guard let parsed = try? Exec.parse(arguments) else {
            return "fast path accepted what Exec rejects: \(arguments) → \(fast)"
        }
        return parsed.invocation == fast ? nil : "\(arguments): fast \(fast) ≠ Exec \(parsed.invocation)"
    }

    static let corpus: [[String]] = [
        ["vm1", "--", "echo", "hi"],
        ["-i", "vm1", "--", "cat"],
        ["-it", "vm1", "--", "sh"],
        ["-ti", "--state-dir", "/s", "vm1", "--", "sh", "-c", "exit 3"],
        ["-e", "A=1", "-e", "B=two words", "-w", "/tmp", "-u", "1000:1000", "vm1", "--", "env"],
        ["--interactive", "--tty", "--env", "K=V", "--workdir", "/", "--user", "root", "vm1", "--", "id"],
        ["vm1", "-i", "--", "cat"],
        ["vm1", "--", "--", "-i"],
        ["-e", "--", "vm1", "--", "true"],
        ["-e", "-t", "vm1", "--", "true"],
        ["-w", "-i", "vm1", "--", "true"],
        ["--state-dir", "--", "vm1", "--", "true"],
        ["-u", "", "vm1", "--", "true"],
        ["vm1", "vm2", "--", "true"],
        ["--state-dir=/s", "vm1", "--", "true"],
        ["-e"],
        ["vm1", "--"],
        ["--", "vm1", "true"],
        ["-x", "vm1", "--", "true"],
        ["--help"],
        ["vm1", "--", "-h"],
    ]

    @Test(arguments: corpus) func corpusAgrees(_ arguments: [String]) {
        #expect(disagreement(arguments) == nil)
    }

    @Test func theCommonFormsTakeTheFastPath() {
        #expect(ExecFastPath.parse(["fc-supervisor", "exec", "vm1", "--", "true"]) != nil)
        #expect(ExecFastPath.parse(["fc-supervisor", "exec", "-it", "-e", "A=1", "vm1", "--", "sh"]) != nil)
    }

    /// Seeded permutations of the flag vocabulary: well-formed lines (options, ID, --, CMD in random order
    /// and combinations) and token soup.
    @Test func seededPermutationsAgree() {
        var random = SplitMix64(seed: 0x1414_f00d)
        let flags = ["-i", "-t", "-it", "-ti", "--interactive", "--tty"]
        let valued = ["-e", "--env", "-w", "--workdir", "-u", "--user", "--state-dir"]
        let values = ["A=1", "/tmp", "root", "/s", "", "x y", "-i", "--", "vm2"]
        let soup = flags + valued + values + ["--", "vm1", "echo", "hi", "-x", "--bogus"]
        var failures: [String] = []
        var accepted = 0
        for round in 0..<1500 {
            var arguments: [String] = []
            if round % 2 == 0 {
                var parts: [[String]] = (0..<random.next(upTo: 5)).map { _ in
                    random.next(upTo: 2) == 0 ? [flags[random.next(upTo: flags.count)]]
                        : [valued[random.next(upTo: valued.count)], values[random.next(upTo: values.count)]]
                }
                parts.insert(["vm1"], at: random.next(upTo: parts.count + 1))
                arguments = parts.flatMap { $0 } + ["--"] + ["echo", "hi"].prefix(random.next(upTo: 3))
            } else {
                arguments = (0..<random.next(upTo: 10)).map { _ in soup[random.next(upTo: soup.count)] }
            }
            if ExecFastPath.parse(["fc-supervisor", "exec"] + arguments) != nil { accepted += 1 }
            if let failure = disagreement(arguments) { failures.append(failure) }
        }
        let agreed = failures.isEmpty
        #expect(agreed, "\(failures.count) disagreements, first: \(failures.prefix(5))")
        #expect(accepted > 150, "the generator rarely produced a fast-path line (\(accepted))")
    }
}

/// A small seeded generator (SplitMix64), so a failing permutation can be replayed.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(upTo bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(max(bound, 1)))
    }
}
