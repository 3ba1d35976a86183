# Sourced by Benchmarks/guest.sh and Benchmarks/guest_profile.sh: one QEMU guest under fc-supervisor, id `guest`,
# state in $W/s, the shape of BENCHMARKS.md section 8 (1 vCPU, 512 MiB). The caller sets SUP (fc-supervisor),
# KERNEL and W (its work directory) and defines die(). On exit the guest is stopped (killed if it does not stop)
# and $W is removed.
VM_PID=""

guest_vm_cleanup() {
    set +e
    if [ -n "$VM_PID" ]; then
        "$SUP" stop --state-dir "$W/s" guest >/dev/null 2>&1
        for _ in $(seq 50); do kill -0 "$VM_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$VM_PID" 2>/dev/null
    fi
    rm -rf "$W"
}
trap guest_vm_cleanup EXIT

# guest_vm_start INITRD: boots the guest from INITRD and returns once an `exec` works in it.
guest_vm_start() {
    "$SUP" run --vmm qemu --id guest --state-dir "$W/s" --kernel "$KERNEL" --initrd "$1" \
        --vcpus 1 --memory-mib 512 -- sleep 1000000 </dev/null >"$W/vm.log" 2>&1 &
    VM_PID=$!
    for _ in $(seq 600); do "$SUP" exec --state-dir "$W/s" guest -- true 2>/dev/null && break; sleep 0.1; done
    "$SUP" exec --state-dir "$W/s" guest -- true || die "the VM never became ready: $(tail -5 "$W/vm.log")"
}

# guest_vm_stop: stops the guest and waits for the supervisor to end.
guest_vm_stop() {
    "$SUP" stop --state-dir "$W/s" guest >/dev/null 2>&1 || true
    wait "$VM_PID" 2>/dev/null || true
    VM_PID=""
}
