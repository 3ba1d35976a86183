#!/usr/bin/env bash
# Builds every libFuzzer target (swiftc/clang directly, no SwiftPM) into fuzz-out/bin/:
#   frame-decoder   (a) FrameDecoder + Message parser          Sources/VsockProtocol
#   vminit-session  (b) vm-init's host-connection handler      Sources/VMInit (+ VsockProtocol, LinuxSystem, CLinux)
#   guest-mux       (c) fc-supervisor's guest-side handler     the Supervisor module (GuestMux, FramedConnection)
#   http-response   (d) Firecracker API response parser        the FirecrackerAPI module (HTTPResponseParser)
# Targets link whole modules, built like SwiftPM builds them (one module per Sources/ directory, -enable-testing
# so a harness can `@testable import` internal types), so moving code between files never breaks this script.
#   Tests/Fuzz/build-fuzz.sh [target…]     (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/fuzz-out"; obj="$out/obj"; bin="$out/bin"
mkdir -p "$obj/modules/CLinux" "$obj/modules/CLibcap" "$bin"
SAN=(-sanitize=fuzzer,address)
SWIFTFLAGS=(-parse-as-library -O -g -swift-version 6 -package-name fc_runtime "${SAN[@]}" -I "$obj" -I "$obj/modules")
quiet() { # ld.gold warns about every ASan check symbol; show only real diagnostics
    local log="$obj/last.log"
    if ! "$@" >"$log" 2>&1; then cat "$log" >&2; echo "build failed: $*" >&2; exit 2; fi
    grep -v "Cannot export local symbol" "$log" || true
}

build_libs() {
    [ -f "$obj/.libs-stamp" ] && [ -z "$(find "$root/Sources/VsockProtocol" "$root/Sources/LinuxSystem" "$root/Sources/CLinux" -newer "$obj/.libs-stamp" -print -quit)" ] && return
    echo "building VsockProtocol, CLinux, LinuxSystem (instrumented)"
    # Every header SwiftPM's umbrella directory exposes (clinux.h, clinux_random.h, …), as SwiftPM would.
    {
        echo "module CLinux {"
        for h in "$root"/Sources/CLinux/include/*.h; do echo "  header \"$h\""; done
        echo "  link \"cap\""
        echo "  export * }"
    } >"$obj/modules/CLinux/module.modulemap"
    cp "$root/Sources/CLibcap/module.modulemap" "$root/Sources/CLibcap/shim.h" "$obj/modules/CLibcap/"
    quiet clang -c -O1 -g -fsanitize=address,fuzzer-no-link -I "$root/Sources/CLinux/include" \
        "$root/Sources/CLinux/clinux.c" -o "$obj/clinux.o"
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -module-name VsockProtocol -emit-module -emit-module-path "$obj/VsockProtocol.swiftmodule" \
        "$root"/Sources/VsockProtocol/*.swift -o "$obj/VsockProtocol.o"
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -module-name LinuxSystem -emit-module -emit-module-path "$obj/LinuxSystem.swiftmodule" \
        "$root"/Sources/LinuxSystem/*.swift -o "$obj/LinuxSystem.o"
    touch "$obj/.libs-stamp"
}

# module NAME: Sources/NAME/**.swift → $obj/NAME.o and NAME.swiftmodule (after build_libs and the modules it
# imports). Rebuilt when anything under Sources/ is newer than it.
module() {
    local name="$1" stamp="$obj/.$1-stamp"
    [ -f "$stamp" ] && [ -z "$(find "$root/Sources" -newer "$stamp" -print -quit)" ] && return
    echo "building module $name (instrumented)"
    local sources=()
    mapfile -t sources < <(find "$root/Sources/$name" -name '*.swift' | sort)
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -enable-testing -module-name "$name" -emit-module \
        -emit-module-path "$obj/$name.swiftmodule" "${sources[@]}" -o "$obj/$name.o"
    touch "$stamp"
}

target() {
    local name="$1"; shift
    echo "building $bin/$name"
    case "$name" in
    frame-decoder)
        quiet swiftc "${SAN[@]}" -parse-as-library -O -g -module-name VsockProtocolFuzz \
            "$root"/Sources/VsockProtocol/*.swift "$root/Tests/Fuzz/FrameDecoderFuzz.swift" -o "$bin/$name" ;;
    vminit-session)
        build_libs
        module VsockTransport
        quiet swiftc "${SWIFTFLAGS[@]}" -module-name VMInitFuzz "$root"/Sources/VMInit/*.swift \
            "$root/Tests/Fuzz/FuzzSupport.swift" "$root/Tests/Fuzz/VMInitSessionFuzz.swift" \
            "$obj/VsockProtocol.o" "$obj/LinuxSystem.o" "$obj/VsockTransport.o" "$obj/clinux.o" -lcap -o "$bin/$name" ;;
    guest-mux)
        build_libs
        for m in VsockTransport FirecrackerAPI VMM Supervisor; do module "$m"; done
        quiet swiftc "${SWIFTFLAGS[@]}" -module-name GuestMuxFuzz \
            "$root/Tests/Fuzz/FuzzSupport.swift" "$root/Tests/Fuzz/GuestMuxFuzz.swift" \
            "$obj/Supervisor.o" "$obj/VMM.o" "$obj/FirecrackerAPI.o" "$obj/VsockTransport.o" \
            "$obj/VsockProtocol.o" "$obj/LinuxSystem.o" "$obj/clinux.o" -lcap -o "$bin/$name" ;;
    http-response)
        build_libs
        module FirecrackerAPI
        quiet swiftc "${SWIFTFLAGS[@]}" -module-name HTTPFuzz "$root/Tests/Fuzz/HTTPResponseFuzz.swift" \
            "$obj/FirecrackerAPI.o" "$obj/LinuxSystem.o" "$obj/clinux.o" -lcap -o "$bin/$name" ;;
    *) echo "unknown fuzz target $name" >&2; exit 2 ;;
    esac
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(frame-decoder vminit-session guest-mux http-response)
for t in "${targets[@]}"; do target "$t"; done
