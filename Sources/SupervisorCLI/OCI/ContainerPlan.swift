import OCIRuntime
import Supervisor
import VMM
import VsockProtocol

/// THE SEAM between a loaded bundle and the VM that runs it (issue 15 §3–4), filled by the lead at integration.
///
/// Today the VM boots the runtime configuration's kernel and initramfs, sized and placed by the bundle's
/// ``VMOptions``, and ``container`` is nil, so the workload runs in the initramfs itself. Filled, it is
/// `let plan = try VMPlan(bundle: bundle, configuration: configuration, id: id, stateRoot: root)` and
/// `ContainerPlan(vm: plan.vm, container: plan.container)` (errors through `RuntimeFailure(error)`): the
/// cached rootfs image as the VM's only drive and vm-init's `container` request. That variant passed
/// OCIRuntimeE2ETests here (QEMU) with a vm-init built from this branch, and Tests/GoRunc against runc
/// (every case but the documented `run_self_kill_init`; compare.py: 145 fields, no disagreement).
/// `make` runs in the `create` call before the supervisor is spawned and again in the supervisor (which loads
/// the bundle itself), so it must be deterministic; its errors are one line (create exits 1).
struct ContainerPlan {
    /// The VM to boot.
    var vm: VMConfig
    /// The container root vm-init prepares before the workload (`VMSupervisor.container`); nil: none.
    var container: ContainerRequest?

    static func make(bundle: OCIBundle, configuration: RuntimeConfiguration, root: String,
                     id: String) throws(RuntimeFailure) -> ContainerPlan {
        var vm = configuration.vmConfig(id: id)
        vm.stateRoot = root
        bundle.vmOptions.apply(to: &vm)
        do { try vm.validate() } catch { throw RuntimeFailure(error.message) }
        return ContainerPlan(vm: vm, container: nil)
    }

    /// Hands the plan's container to the supervisor that boots ``vm``.
    func configure(_ supervisor: VMSupervisor) { supervisor.container = container }
}
