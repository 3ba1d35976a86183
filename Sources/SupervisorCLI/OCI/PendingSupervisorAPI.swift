import Supervisor
import VsockProtocol

// TEMPORARY: the contract §2 API that the `sup` branch adds, stubbed so this branch builds before `git merge sup`.
// Deleted by that merge's commit. Nothing here works: a held workload never reports `created`.

extension VMSupervisor {
    var holdWorkload: Bool { get { false } set {} }
    var onCreated: ((SupervisorError?) -> Void)? { get { nil } set {} }
    var forwardSignalsVerbatim: Bool { get { false } set {} }
}

extension WorkloadSpec {
    var request: ExecRequest? { get { nil } set {} }
}

enum LifecycleAction: String { case start, pause, resume }

struct LifecycleDone { var action: LifecycleAction; var pid: Int32? }

extension ControlCommands {
    static func lifecycle(_ action: LifecycleAction, stateRoot: String, id: String) throws(SupervisorError) -> LifecycleDone {
        throw SupervisorError(.startFailed, "lifecycle \(action.rawValue) is not available before the sup merge")
    }
}
