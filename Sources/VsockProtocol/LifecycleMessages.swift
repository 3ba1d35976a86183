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

    public static let allDefined: [LifecycleAction] = [.start, .pause, .resume]
}

/// `lifecycle`: a client asks the supervisor to start the held workload, or to pause or resume the VM.
/// Answered by `lifecycle_done` or by `error` (`invalid_state` with runc's text when the container is in the
/// wrong state, `invalid_message` for an action this version does not define).
public struct LifecycleRequest: Sendable, Equatable, Codable {
    public var action: LifecycleAction
    public init(action: LifecycleAction) { self.action = action }
}

/// `lifecycle_done`: the request was carried out.
public struct LifecycleDone: Sendable, Equatable, Codable {
    public var action: LifecycleAction
    /// `start` only: the workload's pid in the guest.
    public var pid: Int32?
    public init(action: LifecycleAction, pid: Int32? = nil) { self.action = action; self.pid = pid }
}

/// A peer's refusal, as a Swift error: a request answered by `error` fails with it.
extension ErrorMessage: Error {}
