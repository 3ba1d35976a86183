#!/usr/bin/env bash
# Builds the layers vm-init is made of that already build as Embedded Swift (`-enable-experimental-feature
# Embedded`: no runtime metadata, no reflection, no existentials, no `Codable`) in that mode, and fails on any
# error. It keeps them that way for a port of vm-init to Embedded Swift (BENCHMARKS.md §8, Benchmarks/guest_notes.md):
#   VsockProtocol  the frames and every header, coded by hand (MessageCoding.swift); `Codable` only outside
#                  Embedded mode (`#if !hasFeature(Embedded)`);
#   LinuxSystem    through Embedded/Glibc.swift, a module named Glibc over the C library's headers that adds what
#                  the Glibc overlay adds and the sources use (variadic calls, errno, SIG_IGN, the S_IF* masks).
# Objects and modules go to build/embedded (EMBEDDED_OUT overrides); nothing is linked yet.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out=${EMBEDDED_OUT:-$root/build/embedded}
swiftc=$(command -v swiftc) || { echo "embedded-check: swiftc not found" >&2; exit 1; }
toolchain=$(dirname "$(dirname "$(readlink -f "$swiftc")")")
glibc_header=$toolchain/lib/swift/linux/$(uname -m)/SwiftGlibc.h
[ -f "$glibc_header" ] || { echo "embedded-check: $glibc_header not found" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/clang"
cat > "$out/clang/module.modulemap" <<MAP
module SwiftGlibc [system] {
    header "$glibc_header"
    header "$root/Embedded/glibc_compat.h"
    export *
}
module CLinux {
    umbrella "$root/Sources/CLinux/include"
    export *
}
MAP

flags=(-enable-experimental-feature Embedded -wmo -Osize -parse-as-library -I "$out/clang" -I "$out")
build() {   # build MODULE SOURCES...
    local module=$1
    shift
    swiftc "${flags[@]}" -module-name "$module" "$@" -emit-module -emit-module-path "$out/$module.swiftmodule" \
        -c -o "$out/$module.o"
    echo "embedded-check: $module builds as Embedded Swift ($(stat -c %s "$out/$module.o") bytes of object code)"
}
build Glibc Embedded/Glibc.swift
build VsockProtocol Sources/VsockProtocol/*.swift
build LinuxSystem Sources/LinuxSystem/*.swift
