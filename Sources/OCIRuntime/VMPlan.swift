import VMM
import VsockProtocol

/// Everything a VM for one bundle needs, decided before anything is started: the VMM configuration (the
/// runtime's kernel and initramfs, sized and placed by the bundle), the root image from the cache, attached
/// read-only as the VM's only drive, and vm-init's `container` request for it.
public struct VMPlan: Sendable {
    public var vm: VMConfig
    public var image: RootfsImage
    public var container: ContainerRequest

    /// Builds (or finds in the cache) the root image and maps the bundle. Deterministic for an unchanged bundle
    /// and tree, so `create` and the supervisor it spawns agree; the second call is a cache hit. One-line
    /// ``OCIError``s; a failed image build leaves nothing in the cache.
    public init(bundle: OCIBundle, configuration: RuntimeConfiguration, id: String, stateRoot: String) throws(OCIError) {
        var vm = configuration.vmConfig(id: id)
        vm.stateRoot = stateRoot
        bundle.vmOptions.apply(to: &vm)
        let container = try bundle.containerRequest()
        do { try vm.validate() } catch { throw OCIError(.invalidConfiguration, error.message) }
        image = try RootfsImageCache(directory: configuration.imageCache).image(for: bundle.rootfs)
        vm.rootfs = nil
        vm.extraDrives = [image.path]
        self.vm = vm
        self.container = container
    }
}
