import Foundation
import Testing
@testable import VsockProtocol

/// A fixed-seed run of random, mutated and valid frames through the decoder. It must never crash, every
/// result must be consistent, and the decoder must resynchronise wherever framing allows.
@Suite("Random input")
struct RandomInputTests {
    static let limits = FrameLimits(maxHeaderBytes: 1024, maxPayloadBytes: 256)

    /// Frames to feed: 1,000,000 by default; `VSOCK_RANDOM_FRAMES=N` overrides (e.g. for longer soak runs).
    static var frameCount: Int {
        ProcessInfo.processInfo.environment["VSOCK_RANDOM_FRAMES"].flatMap { Int($0) } ?? 1_000_000
    }

    static let fieldNames = [
        "type", "session", "version", "role", "agent", "capabilities", "limits", "max_header", "max_payload", "window",
        "wall_clock_ns", "boot_timings", "argv", "env", "cwd", "user", "uid", "gid", "groups", "umask", "rlimits",
        "no_new_privs", "tty", "rows", "cols", "stdin", "timeout_ms", "pid", "errno", "stage", "message", "bytes",
        "signal", "code", "core_dumped", "oom_killed", "output_truncated", "status", "sessions", "id", "unix_ns",
        "mode", "grace_ms", "state", "attached", "exit",
    ]

    static func randomJSONValue(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        switch rng.below(depth > 2 ? 9 : 12) {
        case 0: return String(rng.below(10))
        case 1: return "-\(rng.below(1000))"
        case 2: return String(rng.next())
        case 3: return ["1.5", "1e400", "-0", "4294967296", "18446744073709551616", "2e2", "0x10"][rng.below(7)]
        case 4: return "\"\(Samples.string(&rng).replacingOccurrences(of: "\\", with: "").replacingOccurrences(of: "\"", with: ""))\""
        case 5: return ["true", "false", "null"][rng.below(3)]
        case 6: return "\"\(Array(Message.knownTypes)[rng.below(Message.knownTypes.count)])\""
        case 7: return ["\"\\u00\"", "\"\\ud800\"", "\"\\u0000\"", "\"\u{7f}\"", "\"\\q\""][rng.below(5)]
        case 8: return "\"\(fieldNames[rng.below(fieldNames.count)])\""
        case 9: return "[" + (0..<rng.below(3)).map { _ in randomJSONValue(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
        default: return randomJSONObject(&rng, depth: depth + 1)
        }
    }

    static func randomJSONObject(_ rng: inout SplitMix64, depth: Int = 0) -> String {
        var members: [String] = []
        if depth == 0 && rng.chance(85) {
            let types = Array(Message.knownTypes).sorted() + ["detach", "Hello", ""]
            members.append("\"type\":\"\(types[rng.below(types.count)])\"")
        }
        for _ in 0..<rng.below(6) {
            members.append("\"\(fieldNames[rng.below(fieldNames.count)])\":\(randomJSONValue(&rng, depth: depth))")
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// Framing as PROTOCOL.md defines it, independently of FrameDecoder: how many frames are complete, how
    /// many are oversized, and where the last frame ends (past the end when it is incomplete).
    static func frameModel(_ bytes: [UInt8], limits: FrameLimits) -> (complete: Int, oversized: Int, end: Int) {
        var pos = 0, complete = 0, oversized = 0
        func u32(_ i: Int) -> Int {
            Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }
        while pos + 8 <= bytes.count {
            let h = u32(pos), p = u32(pos + 4)
            if h > Int(limits.maxHeaderBytes) || p > Int(limits.maxPayloadBytes) { oversized += 1 }
            else if pos + 8 + h + p <= bytes.count { complete += 1 }
            pos += 8 + h + p
        }
        return (complete, oversized, pos)
    }

    struct Stats {
        var cases = 0, frames = 0, invalid = 0, oversized = 0, recoveries = 0, unrecoverable = 0
        var codes: [String: Int] = [:]
    }

    @Test func oneMillionRandomFramesThroughTheDecoder() {
        let limits = Self.limits
        var rng = SplitMix64(seed: 0x5EED_F00D)
        // Pre-encoded valid frames, so most of the time goes into decoding.
        let pool: [[UInt8]] = (0..<4096).compactMap { _ in
            let f = Samples.randomFrame(&rng, maxPayload: 64).encoded()
            return f.count - 8 <= Int(limits.maxHeaderBytes) + 64 ? f : nil
        }
        let target = Self.frameCount
        var fed = 0
        var stats = Stats()
        let maxChunk = 512
        while fed < target {
            var stream: [UInt8] = []
            for _ in 0..<(1 + rng.below(12)) {
                fed += 1
                switch rng.below(100) {
                case 0..<50:
                    stream += pool[rng.below(pool.count)]
                case 50..<60:
                    if rng.chance(50) {
                        stream += rng.bytes(rng.below(48))
                    } else {
                        // Mostly zeros: random bytes that still declare plausible lengths.
                        stream += (0..<rng.below(48)).map { _ in rng.chance(80) ? 0 : UInt8(rng.below(4)) }
                    }
                case 60..<80:
                    var f = pool[rng.below(pool.count)]
                    for _ in 0..<(1 + rng.below(3)) {
                        switch rng.below(5) {
                        case 0: f[rng.below(f.count)] ^= UInt8(1 << rng.below(8))
                        case 1: f[rng.below(f.count)] = UInt8(truncatingIfNeeded: rng.next())
                        case 2: f.removeLast(rng.below(f.count))
                        case 3: f.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(f.count + 1))
                        default:
                            // A JSON-significant byte somewhere in the header or payload.
                            if f.count > 8 { f[8 + rng.below(f.count - 8)] = [0x22, 0x7B, 0x7D, 0x5C, 0x00, 0x2C][rng.below(6)] }
                        }
                        if f.isEmpty { break }
                    }
                    stream += f
                case 80..<95:
                    // Well framed, header from random JSON: exercises invalid_message / unknown_message paths.
                    let header = Array(Self.randomJSONObject(&rng).utf8)
                    let payload = rng.chance(20) ? rng.bytes(rng.below(8)) : []
                    Frame.appendBigEndian(UInt32(header.count), to: &stream)
                    Frame.appendBigEndian(UInt32(payload.count), to: &stream)
                    stream += header + payload
                default:
                    // Oversized but short enough to be followed by its bytes.
                    let h = rng.chance(50) ? UInt32(rng.below(200)) : limits.maxHeaderBytes + 1 + UInt32(rng.below(200))
                    let p = h > limits.maxHeaderBytes ? UInt32(rng.below(100)) : limits.maxPayloadBytes + 1 + UInt32(rng.below(100))
                    Frame.appendBigEndian(h, to: &stream)
                    Frame.appendBigEndian(p, to: &stream)
                    stream += [UInt8](repeating: 0x7B, count: Int(h + p))
                }
            }
            stats.cases += 1
            let model = Self.frameModel(stream, limits: limits)
            let (results, decoder) = decodeAll(stream, limits: limits, chunkSize: { $0.below(maxChunk) + 1 }, rng: &rng)
            var complete = 0, oversized = 0
            for (i, r) in results.enumerated() {
                switch r {
                case .frame(let f):
                    complete += 1
                    stats.frames += 1
                    if !f.payload.isEmpty && !f.message.carriesPayload { Issue.record("payload on \(f.message.type)") }
                    if i % 8 == 0 {
                        // A decoded message re-encodes to a header that decodes to the same message.
                        let again = try? Message.decode(header: f.message.encodedHeader())
                        if again != f.message { Issue.record("unstable round trip: \(f.message)") }
                    }
                case .invalid(let e):
                    complete += 1
                    stats.invalid += 1
                    stats.codes[e.code.rawValue, default: 0] += 1
                    if ![.malformedHeader, .invalidMessage, .unknownMessage].contains(e.code) { Issue.record("code \(e)") }
                case .oversized(let e):
                    oversized += 1
                    stats.oversized += 1
                    if e.code != .frameTooLarge { Issue.record("code \(e)") }
                }
            }
            if complete != model.complete || oversized != model.oversized {
                Issue.record("case \(stats.cases): decoder \(complete)/\(oversized), model \(model.complete)/\(model.oversized)")
                return
            }
            if decoder.bufferedByteCount > 8 + Int(limits.maxHeaderBytes + limits.maxPayloadBytes) + maxChunk {
                Issue.record("decoder buffered \(decoder.bufferedByteCount) B")
            }
            // Recovery: finish whatever frame or skip is in progress (when small), then a probe must decode.
            let missing = model.end - stream.count
            guard missing >= 0 && missing <= 2048 else { stats.unrecoverable += 1; continue }
            var d = decoder
            let probe = Frame(.ping(Ping(id: UInt64(stats.cases))))
            d.append([UInt8](repeating: 0x20, count: missing) + probe.encoded())
            var last: DecodedFrame?
            var extra = 0
            while let r = d.next() { last = r; extra += 1 }
            if last != .frame(probe) || extra > 2 || d.bufferedByteCount != 0 {
                Issue.record("case \(stats.cases): no recovery, got \(String(describing: last))")
                return
            }
            stats.recoveries += 1
        }
        print("random input: \(fed) frames in \(stats.cases) cases; \(stats.frames) decoded, \(stats.invalid) invalid \(stats.codes), \(stats.oversized) oversized; recovered \(stats.recoveries), unrecoverable \(stats.unrecoverable)")
        // The run exercised every path (proportions are stable: the seed is fixed).
        if target >= 100_000 {
            #expect(stats.frames > target / 4)
            #expect(stats.oversized > target / 50)
            for code in ["malformed_header", "invalid_message", "unknown_message"] {
                #expect(stats.codes[code, default: 0] > target / 200, "\(code)")
            }
            #expect(stats.recoveries > stats.cases / 4)
        }
    }

    /// Pathological JSON inside the limits: deep nesting, huge numbers, long strings. Refused, never a crash.
    @Test func pathologicalHeaders() {
        let cases: [String] = [
            String(repeating: "[", count: 60_000),
            "{\"type\":\"ping\",\"id\":" + String(repeating: "[", count: 10_000) + "}",
            "{\"type\":\"ping\",\"id\":1" + String(repeating: "0", count: 1000) + "}",
            "{\"type\":\"exec\",\"session\":1,\"argv\":[\"" + String(repeating: "\\u00e9", count: 10_000) + "\"]}",
            "{\"type\":\"" + String(repeating: "x", count: 60_000) + "\"}",
        ]
        for text in cases {
            var bytes: [UInt8] = []
            let header = Array(text.utf8)
            Frame.appendBigEndian(UInt32(header.count), to: &bytes)
            Frame.appendBigEndian(0, to: &bytes)
            bytes += header
            bytes += Frame(.ping(Ping(id: 1))).encoded()
            let (results, _) = decodeAll(bytes)
            #expect(results.count == 2)
            #expect(results.last == .frame(Frame(.ping(Ping(id: 1)))))
            if let e = results.first?.error {
                #expect(e.message.utf8.count < 400, "error messages stay short: \(e.message.prefix(80))")
            }
        }
    }
}
