import FirecrackerAPI
import Testing

/// runc's container ids (`_ + .` allowed) → Firecracker's `--id` (letters, digits, `-`).
struct InstanceIDTests {
    @Test func validIDsStayAndOthersBecomeDistinctValidOnes() {
        #expect(FirecrackerIDs.instanceID(for: "web-1") == "web-1")
        let names = ["a_b", "a.b", "a+b", "ab", String(repeating: "x", count: 60) + "_.+z"]
        let ids = names.map(FirecrackerIDs.instanceID(for:))
        #expect(Set(ids).count == names.count, "\(ids)")
        for id in ids { #expect(FirecrackerIDs.isValidInstanceID(id), "\(id)") }
        #expect(ids[0].hasPrefix("ab-") && ids[0].count == 3 + 16)
    }
}
