import Testing
import VMM

/// The kernel command line Firecracker gets by default (issue 14: `--initrd` booted without `rdinit=`).
@Suite struct BootArgsTests {
    private func config(initrd: String? = nil, rootfs: String? = nil, bootArgs: String? = nil) -> VMConfig {
        var config = VMConfig(id: "boot-args")
        config.kernel = "/vmlinux"
        config.initrd = initrd
        config.rootfs = rootfs
        config.bootArgs = bootArgs
        return config
    }

    private func words(_ config: VMConfig) -> [Substring] { config.effectiveBootArgs.split(separator: " ") }

    @Test func initrdNamesSbinInitAsItsInit() {
        #expect(words(config(initrd: "/initrd.cpio")).contains("rdinit=/sbin/init"))
        #expect(words(config(initrd: "/initrd.cpio", rootfs: "/rootfs.ext4")).contains("rdinit=/sbin/init"))
    }

    @Test func kernelWithBuiltInInitramfsAlsoGetsRdinit() {
        #expect(words(config()).contains("rdinit=/sbin/init"))
    }

    @Test func rootfsAloneBootsWithoutRdinit() {
        #expect(!words(config(rootfs: "/rootfs.ext4")).contains { $0.hasPrefix("rdinit=") })
    }

    @Test func userBootArgsAreTakenVerbatim() {
        #expect(config(initrd: "/initrd.cpio", bootArgs: "console=ttyS0 init=/x").effectiveBootArgs == "console=ttyS0 init=/x")
    }

    /// Firecracker always runs on KVM, so its guest gets kvm-clock, which keeps the wall clock across a restore.
    @Test func firecrackerGuestsUseKVMClock() {
        #expect(words(config()).contains("clocksource=kvm-clock"))
    }
}
