# fc-runtime — see README.md. Every target is safe to run on a fresh machine after `make deps`.
SWIFT        ?= swift
BUILD_DIR    ?= build
STATIC_FLAGS := -c release --static-swift-stdlib -Xswiftc -static-executable
SHARED       ?= $(abspath ../shared)

.PHONY: all check demo deps build release lint vm-init-static vm-init-full vm-init-order fc-supervisor-static fc-supervisor-order initramfs runtime-config test test-protocol test-simulator fuzz fuzz-smoke check-sanitizers check-asan check-tsan bench test-oci test-podman guest-kernel guest-image e2e clean

all: build

## What .ci/run runs on a fresh clone: install what is needed, then every test rung.
check: deps test

## README's first command: set up, build, boot a real VM under QEMU and run a workload in it.
DEMO_CMD ?= echo hello
demo: deps guest-image guest-kernel
	$(SWIFT) build --product fc-supervisor
	$$($(SWIFT) build --show-bin-path)/fc-supervisor run --id demo --state-dir /run/fc-supervisor --vmm qemu \
		--kernel $(BUILD_DIR)/vmlinux --initrd $(BUILD_DIR)/initrd.cpio --vcpus 1 --memory-mib 512 -- $(DEMO_CMD)

## Install the system packages the build and the tests need (Debian).
deps:
	bash scripts/install-deps.sh

## Debug build of everything.
build:
	$(SWIFT) build

## Optimised (dynamically linked) build of both executables.
release:
	$(SWIFT) build -c release

## A stripped, fully static vm-init at build/vm-init (what guest images embed), built as Embedded Swift
## (scripts/build-embedded.sh: the same sources, no Swift runtime, generics specialized, unreached code dropped at
## link): 1.6 MB, and it reaches `main` in about 3 ms of a TCG boot where the full build's runtime took 20–40
## (BENCHMARKS.md section 8).
vm-init-static:
	bash scripts/build-embedded.sh $(abspath $(BUILD_DIR))/embedded
	cp $(BUILD_DIR)/embedded/vm-init $(BUILD_DIR)/vm-init
	@file $(BUILD_DIR)/vm-init
	@ls -l $(BUILD_DIR)/vm-init | awk '{printf "vm-init: %.1f MiB\n", $$5/1048576}'

## The same vm-init as a full Swift program at build/vm-init-full (SwiftPM; the Swift runtime and standard library
## linked statically, by lld in a build directory of its own): what guest images embedded before, which section 8
## of BENCHMARKS.md boots beside the Embedded build. Link flags: identical-code folding merges the many identical
## generic specializations; no .eh_frame_hdr (−0.3 MB): nothing in vm-init unwinds; and the functions a VM's life
## runs come first, in the order of GuestImage/hot-code/vm-init.order (`make vm-init-order` regenerates it), so an
## idle vm-init maps about 4 MiB of its binary instead of 6 (GuestImage/hot-code/README.md). Its modules are built
## without the implicit `import _Concurrency`: one use of ContinuousClock linked Swift Concurrency and libdispatch
## (0.7 MB, and libdispatch's start-up work on every boot); a use of Concurrency there now fails this build.
# $(call order-coverage,BINARY,ORDER_FILE,NAME,REGENERATE_TARGET): how many of an order file's functions a build has.
order-coverage = nm --defined-only $(1) | awk 'NR == FNR { want[$$0] = 1; n++; next } ($$3 in want) && !seen[$$3]++ { found++ } \
	END { printf "$(3): %d of the %d functions in $(notdir $(2)) are in this build (make $(4) when few are)\n", found, n }' $(2) -
VMINIT_ORDER      := $(CURDIR)/GuestImage/hot-code/vm-init.order
VMINIT_BUILD_FLAGS := -Xswiftc -use-ld=lld -Xlinker --icf=all -Xlinker --no-eh-frame-hdr \
	-Xlinker --symbol-ordering-file=$(VMINIT_ORDER) -Xlinker --no-warn-symbol-ordering \
	-Xswiftc -Xfrontend -Xswiftc -disable-implicit-concurrency-module-import
vm-init-full:
	@# The build system does not see the order file: a newer one forces the link.
	@if [ $(VMINIT_ORDER) -nt .build-vminit/release/vm-init ]; then rm -f .build-vminit/release/vm-init; fi
	$(SWIFT) build $(STATIC_FLAGS) $(VMINIT_BUILD_FLAGS) --product vm-init --scratch-path .build-vminit
	mkdir -p $(BUILD_DIR)
	strip -o $(BUILD_DIR)/vm-init-full .build-vminit/release/vm-init
	@ls -l $(BUILD_DIR)/vm-init-full | awk '{printf "vm-init-full: %.1f MiB\n", $$5/1048576}'
	@$(call order-coverage,.build-vminit/release/vm-init,$(VMINIT_ORDER),vm-init-full,vm-init-order)

## Regenerates GuestImage/hot-code/vm-init.order from a QEMU boot of build/vm-init-full under a TCG plugin that
## records the code it runs (GuestImage/hot-code/profile.sh, about a minute); then relinks vm-init-full with it.
vm-init-order: vm-init-full fc-supervisor-static guest-kernel
	bash GuestImage/hot-code/profile.sh
	$(MAKE) vm-init-full

## A stripped, fully static fc-supervisor at build/fc-supervisor: what a worker installs. Static linking also
## cuts its start-up from ~5 ms to under 1 ms, which is most of an `exec` round trip. Linked by lld with the
## functions a supervisor runs first and together (scripts/fc-supervisor.order; `make fc-supervisor-order`
## regenerates it), so an idle supervisor maps about 12 MiB of its binary instead of 18.
SUPERVISOR_ORDER  := $(CURDIR)/scripts/fc-supervisor.order
HOST_STATIC_FLAGS := $(STATIC_FLAGS) -Xswiftc -use-ld=lld \
	-Xlinker --symbol-ordering-file=$(SUPERVISOR_ORDER) -Xlinker --no-warn-symbol-ordering
fc-supervisor-static:
	@# The build system does not see the order file: a newer one forces the link.
	@if [ $(SUPERVISOR_ORDER) -nt .build-static/release/fc-supervisor ]; then rm -f .build-static/release/fc-supervisor; fi
	$(SWIFT) build $(HOST_STATIC_FLAGS) --product fc-supervisor --scratch-path .build-static
	mkdir -p $(BUILD_DIR)
	strip -o $(BUILD_DIR)/fc-supervisor .build-static/release/fc-supervisor
	@file $(BUILD_DIR)/fc-supervisor
	@$(call order-coverage,.build-static/release/fc-supervisor,$(SUPERVISOR_ORDER),fc-supervisor,fc-supervisor-order)

## Regenerates scripts/fc-supervisor.order from a supervisor run under valgrind's callgrind (scripts/supervisor-order.sh,
## a few seconds; needs valgrind), then relinks fc-supervisor with it.
fc-supervisor-order: fc-supervisor-static vm-init-static
	bash scripts/supervisor-order.sh
	$(MAKE) fc-supervisor-static

## A stripped, fully static fc-image at build/fc-image (image pulls; `fc-supervisor image` execs the one beside it).
## The same flags as fc-supervisor's, which shares its build directory.
fc-image-static:
	$(SWIFT) build $(HOST_STATIC_FLAGS) --product fc-image --scratch-path .build-static
	mkdir -p $(BUILD_DIR)
	strip -o $(BUILD_DIR)/fc-image .build-static/release/fc-image
	@ls -l $(BUILD_DIR)/fc-image | awk '{printf "fc-image: %.1f MiB\n", $$5/1048576}'

## Every test rung that runs on this machine: the layer checks (each module imports only what Package.swift
## lets it; raw libc calls only in LinuxSystem/CLinux), protocol units, LinuxSystem and VsockTransport units,
## vm-init as PID 1 in namespaces, the supervisor against the Firecracker simulator, real VMs under QEMU, the
## simulator's own conformance tests, CI's share of fuzzing, then runc's clients: containerd's go-runc and
## Debian's podman driving fc-supervisor (neither half may be skipped here).
test: vm-init-static vm-init-full guest-kernel lint
	$(SWIFT) build --build-tests --explicit-target-dependency-import-check error
	$(SWIFT) test --skip-build --no-parallel
	python3 -m pytest -q Tests/Simulator
	python3 Protocol/check_schema.py
	$(MAKE) fuzz-smoke
	$(MAKE) test-oci OCI_REQUIRE_FC=1
	$(MAKE) test-images
	$(MAKE) test-podman PODMAN_REQUIRE=1

## containerd's go-runc driving runc and fc-supervisor (Tests/GoRunc, GOPATH mode against Debian's packages):
## every observable result of both, compared field by field (Tests/GoRunc/README.md). OCI_ONLY=runc skips
## fc-supervisor; without its runc command line (or build/config.json) that half is skipped with a message.
test-oci:
	bash Tests/GoRunc/test-oci.sh

## Debian's podman 4.3 + conmon driving build/fc-supervisor (`--runtime`, `--rootfs DIR`, real VMs under QEMU):
## run/exit codes/SIGKILL, run -d + exec + stop + rm + ps, run -it under tmux, and nothing left after each case
## (Tests/Podman/README.md).
test-podman: fc-supervisor-static runtime-config
	bash Tests/Podman/test-podman.sh

## fc-image against Debian's docker-registry on 127.0.0.1 (images pushed with skopeo) and a stub registry for
## faults; the pulled images run in real VMs under QEMU (Tests/Images/README.md).
test-images: runtime-config
	$(SWIFT) build --product fc-image
	$(SWIFT) build --product fc-supervisor
	bash Tests/Images/test-images.sh

## LinuxSystem is the only door to libc: a raw libc call anywhere else in Sources/ fails (file:line listed).
lint:
	bash scripts/lint-syscalls.sh

## The guest kernel at build/vmlinux: the prebuilt $(SHARED)/guest-kernel/vmlinux when GuestImage/kernel.config
## matches its config-6.1 (sha256), else built from Debian's linux-source-6.1 (5.5–15 min on 2 cores).
guest-kernel:
	bash GuestImage/build-kernel.sh --shared $(SHARED) --out $(BUILD_DIR)

## Guest images with vm-init as /sbin/init: build/initrd.cpio and build/rootfs.ext4. GUEST_SOURCE=DIR or an OCI
## bundle (config.json + rootfs/) to start from; BUSYBOX= (empty) leaves busybox-static out.
GUEST_SOURCE ?=
BUSYBOX      ?= --busybox
guest-image: vm-init-static
	bash GuestImage/build-image.sh $(BUSYBOX) $(if $(GUEST_SOURCE),--source $(GUEST_SOURCE)) \
		--initrd $(BUILD_DIR)/initrd.cpio --rootfs $(BUILD_DIR)/rootfs.ext4

## The constant initramfs of OCI mode at build/initramfs.cpio: vm-init alone (no busybox, no shell). The
## workload's root is the bundle's rootfs, attached as an ext4 image (/dev/vda) from the image cache.
initramfs: vm-init-static
	bash GuestImage/build-image.sh --initrd $(BUILD_DIR)/initramfs.cpio

## build/config.json, the runtime configuration for what the build made (kernel, initramfs, the VMM: QEMU
## where Firecracker or a working KVM is missing; image cache build/images). Use: fc-supervisor --config FILE.
runtime-config: guest-kernel initramfs
	bash scripts/runtime-config.sh --build-dir $(BUILD_DIR)

## End-to-end tests only: real VMs under QEMU (fc-supervisor run --vmm qemu), ~20 s on 2 cores.
e2e: vm-init-static guest-kernel
	$(SWIFT) build
	$(SWIFT) test --filter E2ETests

## Every libFuzzer target (Tests/Fuzz/run-fuzz.sh): SECONDS_TO_RUN per target, 60 by default.
fuzz:
	bash Tests/Fuzz/run-fuzz.sh $${SECONDS_TO_RUN:-60}

## CI's share of fuzzing (about 2 minutes): every past crash input, then each target for 15 s, all under ASan.
fuzz-smoke:
	bash Tests/Fuzz/run-fuzz.sh 15

## Nightly, not CI (20–30 minutes on 2 cores): the protocol, vm-init and supervisor tests under AddressSanitizer
## (check-asan), then ThreadSanitizer (check-tsan), each in its own scratch path. FC_SANITIZER tells the tests
## (crash-handler tests are skipped: the sanitizer runtime owns the fatal signals; RSS bounds allow for shadow
## memory). The 64 MiB output-tail test runs 10 times instead of 100. Tests/Sanitizers/ holds the suppressions.
SAN_FILTER ?= VsockProtocolTests|LinuxSystemTests|VsockTransportTests|VMInitTests|SupervisorTests
SAN_ENV = VMINIT_TAIL_RUNS=$${VMINIT_TAIL_RUNS:-10}
check-sanitizers: check-asan check-tsan

check-asan:
	$(SWIFT) build --scratch-path .build-asan --sanitize=address --build-tests
	$(SAN_ENV) LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp FC_SANITIZER=address $(SWIFT) test --scratch-path .build-asan --sanitize=address --skip-build --no-parallel --filter '$(SAN_FILTER)'

check-tsan:
	$(SWIFT) build --scratch-path .build-tsan --sanitize=thread --build-tests
	$(SAN_ENV) FC_SANITIZER=thread $(SWIFT) test --scratch-path .build-tsan --sanitize=thread --skip-build --no-parallel --filter '$(SAN_FILTER)'

## Benchmarks: writes BENCHMARKS.md. BENCH_OCI=1 adds section 7 (go-runc against fc-supervisor's runc command line
## and runc: Benchmarks/oci.sh). BENCH_ONLY=NAME measures and rewrites only one part: throughput (sections 2, summary
## only), oci (7), guest (8: the guest against a C init under QEMU, Benchmarks/guest.sh), snapshot (9: checkpoint and
## restore against a cold boot, Benchmarks/snapshot.sh), metrics (10: heartbeat and scrape cost, ping RTT,
## Benchmarks/metrics.sh), images (11: fc-image against skopeo + umoci, Benchmarks/images.sh). A full run (no
## BENCH_ONLY) includes 8 to 11. Where the guest's own time goes in a transfer (not part of a run; section 8 quotes
## it): bash Benchmarks/guest_profile.sh out|in [MIB].
bench: vm-init-static vm-init-full fc-supervisor-static guest-kernel initramfs runtime-config
	case "$(BENCH_ONLY)" in ""|throughput) bash Benchmarks/run.sh ;; esac
	if [ "$(BENCH_ONLY)" = oci ] || [ "$(BENCH_OCI)" = 1 ]; then bash Benchmarks/oci.sh; fi
	if [ -z "$(BENCH_ONLY)" ] || [ "$(BENCH_ONLY)" = guest ]; then bash Benchmarks/guest.sh; fi
	if [ -z "$(BENCH_ONLY)" ] || [ "$(BENCH_ONLY)" = snapshot ]; then bash Benchmarks/snapshot.sh; fi
	if [ -z "$(BENCH_ONLY)" ] || [ "$(BENCH_ONLY)" = metrics ]; then bash Benchmarks/metrics.sh; fi
	if [ -z "$(BENCH_ONLY)" ] || [ "$(BENCH_ONLY)" = images ]; then bash Benchmarks/images.sh; fi

clean:
	rm -rf .build .build-* $(BUILD_DIR)
