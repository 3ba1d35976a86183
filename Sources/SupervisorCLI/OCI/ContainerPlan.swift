import OCIRuntime
import Supervisor
import VMM

/// THE SEAM between a loaded bundle and the VM that runs it (issue 15 §3–4).
///
/// Today the VM boots the runtime configuration's kernel and initramfs, sized and placed by the bundle's
/// ``VMOptions``, and the workload runs in the initramfs itself. At integration this function also:
/// - turns `bundle.rootfs` into the cached read-only image (`RootfsImageCache(directory:).image(for:)`, contract
///   §3) attached as the VM's only extra drive (`vm.extraDrives = [image.path]`, /dev/vda in the guest);
/// - fills ``container`` with the guest's `ContainerRequest` (root `/dev/vda` ext4 ro, `writable` unless
///   `bundle.readonlyRoot`, `bundle.mounts`, bind-mounted host files, `bundle.vmOptions.hostname`, and the
///   `check` of `process.args[0]`/`cwd`), which the supervisor sends after hello (`VMSupervisor.container`).
/// Both run in the `create` call before the supervisor is spawned and again in the supervisor (which loads the
/// bundle itself), so they must be deterministic; their errors are one-line ``OCIError``s (create exits 1).
struct ContainerPlan {
    /// The VM to boot.
    var vm: VMConfig

    static func make(bundle: OCIBundle, configuration: RuntimeConfiguration, root: String,
                     id: String) throws(RuntimeFailure) -> ContainerPlan {
        var vm = configuration.vmConfig(id: id)
        vm.stateRoot = root
        bundle.vmOptions.apply(to: &vm)
        do { try vm.validate() } catch { throw RuntimeFailure(error.message) }
        return ContainerPlan(vm: vm)
    }

    /// The supervisor's settings for this plan (the seam's other half: `supervisor.container = …`).
    func configure(_ supervisor: VMSupervisor) {}
}
