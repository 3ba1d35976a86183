import LinuxSystem
import OCIRuntime
import Testing
import TestSupport

/// `<root>/<id>/oci-state.json`: atomic, runc's id rule and error texts, and `list` over the root.
struct ContainerStoreTests {
    private func state(_ id: String, status: ContainerState.Status = .created, pid: Int32 = 100) -> ContainerState {
        ContainerState(id: id, pid: pid, status: status, bundle: "/bundles/" + id, rootfs: "/bundles/\(id)/rootfs",
                       created: Timestamp(nanosecondsSinceEpoch: 1_764_486_300_000_000_001), annotations: ["k": id])
    }

    @Test func containerIDsFollowRunc() {
        for valid in ["a", "c1", "A-b_c+d.e", "...", ".hidden", "x..y", String(repeating: "z", count: 200)] {
            #expect(throws: Never.self) { try ContainerStore.validate(id: valid) }
        }
        for invalid in ["", ".", "..", "a/b", "a b", "a,b", "é", "#creating-x", "a\n", "a:b", "a@b"] {
            expectOCIError(.invalidContainerID, "invalid container ID format") { try ContainerStore.validate(id: invalid) }
        }
    }

    @Test func createLoadSaveRemove() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-store-")
        defer { temp.remove() }
        let store = ContainerStore(root: temp.path + "/root")
        let first = state("c1")
        try store.create(first)
        #expect(try store.load(id: "c1") == first)
        // The file holds exactly what `state` prints, and nothing else is left in the directory.
        #expect(FileContents.text(temp.path + "/root/c1/oci-state.json") == first.stateJSON)
        #expect(Directory.names(temp.path + "/root/c1") == ["oci-state.json"])
        #expect(Directory.names(temp.path + "/root") == ["c1"])

        var running = first
        running.status = .running
        running.pid = 4242
        try store.save(running)
        #expect(try store.load(id: "c1") == running)
        #expect(Directory.names(temp.path + "/root/c1") == ["oci-state.json"])

        try store.remove(id: "c1")
        #expect(!Files.exists(temp.path + "/root/c1"))
        // Twice is fine (`delete --force` runs from two places), and so is an id never created.
        try store.remove(id: "c1")
        try store.remove(id: "never")
    }

    @Test func runcsErrorTexts() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-store-")
        defer { temp.remove() }
        let store = ContainerStore(root: temp.path)
        try store.create(state("c1"))
        expectOCIError(.containerExists, "container with given ID already exists") { try store.create(state("c1")) }
        expectOCIError(.containerNotFound, "container does not exist") { _ = try store.load(id: "c2") }
        expectOCIError(.containerNotFound, "container does not exist") { try store.save(state("c2")) }
        expectOCIError(.invalidContainerID, "invalid container ID format") { _ = try store.load(id: "../c1") }
        expectOCIError(.invalidContainerID, "invalid container ID format") { try store.create(state("a/b")) }
        expectOCIError(.invalidContainerID, "invalid container ID format") { try store.remove(id: "..") }
        #expect(!Files.exists(temp.path + "/c2"))
        // The failed create left the original untouched and no staging directory behind.
        #expect(Directory.names(temp.path) == ["c1"])
        #expect(try store.load(id: "c1") == state("c1"))
    }

    @Test func leftoverDirectoryBlocksCreateUntilRemoved() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-store-")
        defer { temp.remove() }
        try Files.makeDirectories(temp.path + "/c1")
        let store = ContainerStore(root: temp.path)
        expectOCIError(.containerExists, "container with given ID already exists") { try store.create(state("c1")) }
        try store.remove(id: "c1")
        try store.create(state("c1"))
        #expect(try store.load(id: "c1") == state("c1"))
    }

    @Test func brokenStateIsReportedNotGuessed() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-store-")
        defer { temp.remove() }
        let store = ContainerStore(root: temp.path)
        try Files.makeDirectories(temp.path + "/bad")
        try Files.writeAtomically(temp.path + "/bad/oci-state.json", "{\"id\": ")
        expectOCIError(.stateUnavailable, "state of container bad: invalid JSON at line 1, column 8") { _ = try store.load(id: "bad") }
        var other = state("other")
        other.id = "mismatch"
        try Files.makeDirectories(temp.path + "/other")
        try Files.writeAtomically(temp.path + "/other/oci-state.json", other.stateJSON)
        expectOCIError(.stateUnavailable, "state of container other is not a valid OCI state") { _ = try store.load(id: "other") }
    }

    @Test func listIsSortedSkipsStrangersAndReportsFailures() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-store-")
        defer { temp.remove() }
        let store = ContainerStore(root: temp.path + "/root")
        #expect(store.list().containers.isEmpty && store.list().failures.isEmpty)

        for id in ["b", "a", "c"] { try store.create(state(id, status: id == "c" ? .stopped : .running)) }
        try Files.makeDirectories(temp.path + "/root/#creating-d.XXXXXX")
        try Files.makeDirectories(temp.path + "/root/empty")  // a direct-form VM's directory: not a container
        try Files.makeDirectories(temp.path + "/root/broken")
        try Files.writeAtomically(temp.path + "/root/broken/oci-state.json", "{")
        try Files.writeAtomically(temp.path + "/root/file", "not a container")

        let (containers, failures) = store.list()
        #expect(containers.map(\.id) == ["a", "b", "c"])
        #expect(containers.map(\.status) == [.running, .running, .stopped])
        #expect(failures.count == 1)
        #expect(failures.first?.message.hasPrefix("load container broken: state of container broken: ") == true)
    }
}
