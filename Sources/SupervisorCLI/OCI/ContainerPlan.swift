import OCIRuntime
import Supervisor
import VMM
import VsockProtocol

/// A loaded bundle → the VM that runs it (``VMPlan``): the runtime configuration's kernel and initramfs, sized and
/// placed by the bundle's ``VMOptions``; the bundle's rootfs as a cached read-only ext4 image, the VM's only drive;
/// and vm-init's `container` request, which makes that image (with a private writable overlay unless
/// `root.readonly`) the root of the workload and of every exec.
///
/// `make` runs in the `create` call before the supervisor is spawned (building the image, so a conversion error
/// fails `create` with one line and nothing started) and again in the supervisor, which loads the bundle itself
/// and finds the image in the cache.
struct ContainerPlan {
    /// The VM to boot.
    var vm: VMConfig
    /// The container root vm-init prepares before the workload (`VMSupervisor.container`).
    var container: ContainerRequest
    /// The root image, and whether this call built it (false: the cache had it).
    var image: RootfsImage
    /// The runtime configuration's heartbeat (`defaults.heartbeat_ms`, `defaults.liveness_timeout_ms`).
    var health = HealthSettings()

    static func make(bundle: OCIBundle, configuration: RuntimeConfiguration, root: String,
                     id: String) throws(RuntimeFailure) -> ContainerPlan {
        let plan: VMPlan
        do { plan = try VMPlan(bundle: bundle, configuration: configuration, id: id, stateRoot: root) } catch {
            throw RuntimeFailure(error)
        }
        var health = HealthSettings()
        if let interval = configuration.heartbeatInterval { health.heartbeatInterval = interval }
        health.livenessTimeout = configuration.livenessTimeout
        return ContainerPlan(vm: plan.vm, container: plan.container, image: plan.image, health: health)
    }

    /// Hands the plan's container to the supervisor that boots ``vm``.
    func configure(_ supervisor: VMSupervisor) {
        supervisor.container = container
        supervisor.health = health
    }
}
