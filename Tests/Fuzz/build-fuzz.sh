#!/usr/bin/env bash
# Builds every libFuzzer target (swiftc/clang directly, no SwiftPM) into fuzz-out/bin/:
#   frame-decoder   (a) FrameDecoder + Message parser          Sources/VsockProtocol
#   vminit-session  (b) vm-init's host-connection handler      Sources/VMInit (+ VsockProtocol, LinuxSystem, CLinux)
#   guest-mux       (c) fc-supervisor's guest-side handler     Supervisor/Guest/GuestMux (+ VsockTransport)
#   http-response   (d) Firecracker API response parser        Supervisor/Firecracker/HTTPResponseParser
#   Tests/Fuzz/build-fuzz.sh [target…]     (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/fuzz-out"; obj="$out/obj"; bin="$out/bin"
mkdir -p "$obj/modules/CLinux" "$obj/modules/CLibcap" "$bin"
SAN=(-sanitize=fuzzer,address)
SWIFTFLAGS=(-parse-as-library -O -g -swift-version 6 "${SAN[@]}" -I "$obj" -I "$obj/modules")
quiet() { # ld.gold warns about every ASan check symbol; show only real diagnostics
    local log="$obj/last.log"
    if ! "$@" >"$log" 2>&1; then cat "$log" >&2; echo "build failed: $*" >&2; exit 2; fi
    grep -v "Cannot export local symbol" "$log" || true
}

build_libs() {
    [ -f "$obj/.libs-stamp" ] && [ -z "$(find "$root/Sources/VsockProtocol" "$root/Sources/LinuxSystem" "$root/Sources/CLinux" "$root/Sources/VsockTransport" -newer "$obj/.libs-stamp" -print -quit)" ] && return
    echo "building VsockProtocol, CLinux, LinuxSystem, VsockTransport (instrumented)"
    cat >"$obj/modules/CLinux/module.modulemap" <<MAP
module CLinux { header "$root/Sources/CLinux/include/clinux.h"
  link "cap"
  export * }
MAP
    cp "$root/Sources/CLibcap/module.modulemap" "$root/Sources/CLibcap/shim.h" "$obj/modules/CLibcap/"
    quiet clang -c -O1 -g -fsanitize=address,fuzzer-no-link -I "$root/Sources/CLinux/include" \
        "$root/Sources/CLinux/clinux.c" -o "$obj/clinux.o"
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -module-name VsockProtocol -emit-module -emit-module-path "$obj/VsockProtocol.swiftmodule" \
        "$root"/Sources/VsockProtocol/*.swift -o "$obj/VsockProtocol.o"
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -module-name LinuxSystem -emit-module -emit-module-path "$obj/LinuxSystem.swiftmodule" \
        "$root"/Sources/LinuxSystem/*.swift -o "$obj/LinuxSystem.o"
    quiet swiftc "${SWIFTFLAGS[@]}" -c -wmo -module-name VsockTransport -emit-module -emit-module-path "$obj/VsockTransport.swiftmodule" \
        "$root"/Sources/VsockTransport/*.swift -o "$obj/VsockTransport.o"
    touch "$obj/.libs-stamp"
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
        quiet swiftc "${SWIFTFLAGS[@]}" -module-name VMInitFuzz "$root"/Sources/VMInit/*.swift \
            "$root/Tests/Fuzz/FuzzSupport.swift" "$root/Tests/Fuzz/VMInitSessionFuzz.swift" \
            "$obj/VsockProtocol.o" "$obj/LinuxSystem.o" "$obj/VsockTransport.o" "$obj/clinux.o" -lcap -o "$bin/$name" ;;
    guest-mux)
        build_libs
        quiet swiftc "${SWIFTFLAGS[@]}" -module-name GuestMuxFuzz "$root/Sources/Supervisor/Guest/GuestMux.swift" \
            "$root/Tests/Fuzz/FuzzSupport.swift" "$root/Tests/Fuzz/GuestMuxFuzz.swift" \
            "$obj/VsockProtocol.o" "$obj/LinuxSystem.o" "$obj/VsockTransport.o" "$obj/clinux.o" -lcap -o "$bin/$name" ;;
    http-response)
        quiet swiftc "${SAN[@]}" -parse-as-library -O -g -module-name HTTPFuzz \
            "$root/Sources/Supervisor/Firecracker/HTTPResponseParser.swift" "$root/Tests/Fuzz/HTTPResponseFuzz.swift" \
            -o "$bin/$name" ;;
    *) echo "unknown fuzz target $name" >&2; exit 2 ;;
    esac
}

targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(frame-decoder vminit-session guest-mux http-response)
for t in "${targets[@]}"; do target "$t"; done
