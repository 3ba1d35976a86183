#!/usr/bin/env bash
# Builds vm-init as Embedded Swift (`-enable-experimental-feature Embedded`: no runtime metadata, no reflection,
# no existentials, no `Codable`; generics specialized): a static binary a fraction of the full build's size that
# starts without the Swift runtime's work (BENCHMARKS.md §8, Benchmarks/guest_notes.md).
#
#   scripts/build-embedded.sh [OUT]     modules, objects and OUT/vm-init (stripped); OUT defaults to build/embedded
#
# The same sources as the SwiftPM build, module by module (VsockProtocol, LinuxSystem, VsockTransport, VMInit,
# then vm-init's main), with what Embedded Swift lacks supplied here:
#   Embedded/Glibc.swift      a module named Glibc over the C library's headers (the toolchain's SwiftGlibc.h) with
#                             what the Glibc overlay adds and the sources use (variadic calls, errno, SIG_IGN, S_IF*);
#   Embedded/runtime_hooks.c  the runtime's parser behind `Double(String)`.
# In the sources themselves: `Codable` only outside Embedded mode (#if !hasFeature(Embedded)), no key paths, no
# `weak` or checked `unowned`, typed throws that the compiler can infer, argv from CLinux's constructor.
# `make lint` runs this, so the guest's layers keep building this way.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out=${1:-$root/build/embedded}
swiftc=$(command -v swiftc) || { echo "build-embedded: swiftc not found" >&2; exit 1; }
toolchain=$(dirname "$(dirname "$(readlink -f "$swiftc")")")
arch=$(uname -m)
glibc_header=$toolchain/lib/swift/linux/$arch/SwiftGlibc.h
embedded_lib=$toolchain/lib/swift/embedded/$arch-unknown-linux-gnu
for f in "$glibc_header" "$embedded_lib/libswiftUnicodeDataTables.a"; do
    [ -f "$f" ] || { echo "build-embedded: $f not found (a toolchain with Embedded Swift is needed)" >&2; exit 1; }
done

# Nothing to do when the binary is newer than every input (make test reaches this target several times).
inputs=(Sources/VsockProtocol Sources/LinuxSystem Sources/VsockTransport Sources/VMInit Sources/vm-init Sources/CLinux
    Sources/CLibcap Embedded scripts/build-embedded.sh)
if [ -f "$out/vm-init" ] && [ -z "$(find "${inputs[@]}" -newer "$out/vm-init" -print -quit)" ]; then
    echo "build-embedded: $out/vm-init is up to date"
    exit 0
fi
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

# Every function and datum in its own section, so that the link keeps only what is reached.
flags=(-enable-experimental-feature Embedded -wmo -Osize -Xfrontend -function-sections -I "$out/clang" -I "$out"
    -I Sources/CLibcap)
module() {   # module NAME SOURCES...
    local name=$1
    shift
    swiftc "${flags[@]}" -parse-as-library -module-name "$name" "$@" -emit-module -emit-module-path "$out/$name.swiftmodule" \
        -c -o "$out/$name.o"
}
module Glibc Embedded/Glibc.swift
module VsockProtocol Sources/VsockProtocol/*.swift
module LinuxSystem Sources/LinuxSystem/*.swift
module VsockTransport Sources/VsockTransport/*.swift
module VMInit Sources/VMInit/*.swift
swiftc "${flags[@]}" -module-name vm_init Sources/vm-init/main.swift -c -o "$out/main.o"
clang -c -O2 -ffunction-sections -fdata-sections -I Sources/CLinux/include Sources/CLinux/clinux.c -o "$out/clinux.o"
clang -c -O2 -ffunction-sections -fdata-sections Embedded/runtime_hooks.c -o "$out/runtime_hooks.o"
swiftc -enable-experimental-feature Embedded "$out"/{main,VMInit,VsockTransport,LinuxSystem,VsockProtocol,Glibc}.o \
    "$out"/{clinux,runtime_hooks}.o -o "$out/vm-init.unstripped" -Xclang-linker -static -L "$embedded_lib" \
    -lswiftUnicodeDataTables -lcap -lm -Xlinker --gc-sections 2> >(grep -v "argument unused during compilation: '-pie'" >&2)
strip -o "$out/vm-init" "$out/vm-init.unstripped"
echo "build-embedded: $out/vm-init, $(stat -c %s "$out/vm-init") bytes (stripped, static)"
