/// What a `lifecycle` request asks of the supervisor (control.sock only, PROTOCOL.md §11).
public struct LifecycleAction: WireName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Starts the workload that `create` left waiting (runc's `start`).
    public static let start = LifecycleAction(rawValue: "start")
    /// Pauses the whole VM: its vCPUs stop, its memory stays (runc's `pause`).
    public static let pause = LifecycleAction(rawValue: "pause")
    /// Resumes a paused VM (runc's `resume`).
    public static let resume = LifecycleAction(rawValue: "resume")

    /// Snapshots the VM into `image_path` (runc's `checkpoint`); the VM stops unless `leave_running`.
    public static let checkpoint = LifecycleAction(rawValue: "checkpoint")

    public static let allDefined: [LifecycleAction] = [.start, .pause, .resume, .checkpoint]
}

/// `lifecycle`: a client asks the supervisor to start the held workload, or to pause or resume the VM.
/// Answered by `lifecycle_done` or by `error` (`invalid_state` with runc's text when the container is in the
/// wrong state, `invalid_message` for an action this version does not define).
public struct LifecycleRequest: Sendable, Equatable {
    public var action: LifecycleAction
    /// `checkpoint` only: the (empty, existing) directory the VM's snapshot is written into.
    public var imagePath: String?
    /// `checkpoint` only: the VM runs on afterwards (runc's `--leave-running`).
    public var leaveRunning: Bool?
    public init(action: LifecycleAction, imagePath: String? = nil, leaveRunning: Bool? = nil) {
        self.action = action; self.imagePath = imagePath; self.leaveRunning = leaveRunning
    }
}

/// `lifecycle_done`: the request was carried out.
public struct LifecycleDone: Sendable, Equatable {
    public var action: LifecycleAction
    /// `start` only: the workload's pid in the guest.
    public var pid: Int32?
    public init(action: LifecycleAction, pid: Int32? = nil) { self.action = action; self.pid = pid }
}

/// A peer's refusal, as a Swift error: a request answered by `error` fails with it.
extension ErrorMessage: Error {}

#if !hasFeature(Embedded)
// `Codable`, for Foundation's JSON coders and the tests' reference; the wire uses the hand-coded headers
// (MessageCoding.swift). Embedded Swift has no `Codable`.
extension LifecycleRequest: Codable {
    enum CodingKeys: String, CodingKey { case action, imagePath = "image_path", leaveRunning = "leave_running" }
}
extension LifecycleDone: Codable {}
#endif
