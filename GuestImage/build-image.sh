#!/usr/bin/env bash
# Builds a guest image with vm-init as /sbin/init: an initramfs (newc cpio) and/or a sparse ext4 root file system.
#
#   build-image.sh [--source DIR|BUNDLE] [--vm-init PATH] [--busybox] [--initrd OUT.cpio] [--rootfs OUT.ext4]
#                  [--headroom-mib N]
#
#   --source       a directory to use as the root, or an OCI bundle (a directory holding config.json and rootfs/,
#                  whose rootfs/ is used). Default: an empty root.
#   --vm-init      the static vm-init binary (default: build/vm-init, from `make vm-init-static`).
#   --busybox      also install busybox-static (/bin/busybox, apt busybox-static) with its applet links, for a
#                  shell and the usual tools. Existing files in the source are never replaced by applet links.
#   --initrd       write the initramfs here (boot with rdinit=/sbin/init).
#   --rootfs       write the ext4 image here (boot with root=/dev/vda rw). Sparse; sized as the content plus
#                  headroom (default 64 MiB, and at least 25%).
# At least one of --initrd and --rootfs is required. Needs python3 and, for --rootfs, mkfs.ext4 (e2fsprogs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
source_dir=""
vminit="$repo/build/vm-init"
busybox=0
initrd=""
rootfs=""
headroom=64
die() { echo "build-image.sh: $*" >&2; exit 1; }
while (($#)); do
    case "$1" in
        --source) source_dir="$2"; shift 2 ;;
        --vm-init) vminit="$2"; shift 2 ;;
        --busybox) busybox=1; shift ;;
        --initrd) initrd="$2"; shift 2 ;;
        --rootfs) rootfs="$2"; shift 2 ;;
        --headroom-mib) headroom="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done
[[ -n "$initrd$rootfs" ]] || die "nothing to build: give --initrd and/or --rootfs"
[[ -x "$vminit" ]] || die "vm-init not found at $vminit (run: make vm-init-static)"
if ! file -L "$vminit" 2>/dev/null | grep -q "statically linked"; then
    file -L "$vminit" 2>/dev/null | grep -q "static-pie" || die "$vminit is not statically linked (use make vm-init-static)"
fi
[[ "$headroom" =~ ^[0-9]+$ ]] || die "--headroom-mib wants a number"

if [[ -n "$source_dir" ]]; then
    [[ -d "$source_dir" ]] || die "--source $source_dir is not a directory"
    if [[ -f "$source_dir/config.json" && -d "$source_dir/rootfs" ]]; then
        echo "guest image: OCI bundle $source_dir, using its rootfs/"
        source_dir="$source_dir/rootfs"
    fi
fi

stage="$(mktemp -d "${TMPDIR:-/tmp}/guest-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
mkdir -p "$root"
if [[ -n "$source_dir" ]]; then
    cp -a "$source_dir/." "$root/"
fi
for d in dev proc sys tmp run sbin bin etc root; do
    [[ -e "$root/$d" || -L "$root/$d" ]] || mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp"
# /sbin may be a symlink (merged /usr): resolve inside the root, never on the host.
init_dir="$root/sbin"
if [[ -L "$init_dir" ]]; then
    link="$(readlink "$init_dir")"
    case "$link" in /*) init_dir="$root$link" ;; *) init_dir="$root/$link" ;; esac
    mkdir -p "$init_dir"
fi
rm -f "$init_dir/init"
install -m 0755 "$vminit" "$init_dir/init"

if ((busybox)); then
    bb=/bin/busybox
    [[ -x "$bb" ]] || die "busybox not found at $bb (apt-get install busybox-static)"
    file -L "$bb" | grep -Eq "statically linked|static-pie" || die "$bb is not static (apt-get install busybox-static)"
    bin_dir="$root/bin"
    if [[ -L "$bin_dir" ]]; then
        link="$(readlink "$bin_dir")"
        case "$link" in /*) bin_dir="$root$link" ;; *) bin_dir="$root/$link" ;; esac
        mkdir -p "$bin_dir"
    fi
    [[ -e "$bin_dir/busybox" ]] || install -m 0755 "$bb" "$bin_dir/busybox"
    # Applet links, each at its canonical path (/bin/sh, /usr/bin/head, /sbin/...), never over an existing file.
    while read -r applet; do
        [[ -n "$applet" ]] || continue
        target="$root/$applet"
        [[ "$applet" == "sbin/init" || "$applet" == "linuxrc" ]] && continue
        [[ -e "$target" || -L "$target" ]] && continue
        mkdir -p "$(dirname "$target")"
        ln -s /bin/busybox "$target"
    done < <("$bb" --list-full)
fi

# Device nodes the kernel needs before vm-init mounts devtmpfs (only possible as root; the cpio adds them anyway).
if [[ $EUID -eq 0 ]]; then
    [[ -e "$root/dev/console" ]] || mknod -m 600 "$root/dev/console" c 5 1 || true
    [[ -e "$root/dev/null" ]] || mknod -m 666 "$root/dev/null" c 1 3 || true
fi

if [[ -n "$initrd" ]]; then
    mkdir -p "$(dirname "$initrd")"
    python3 "$here/mkcpio.py" "$root" "$initrd" --node /dev/console:c:5:1:600 --node /dev/null:c:1:3:666
    echo "guest image: initramfs $initrd ($(du -k --apparent-size "$initrd" | cut -f1) KiB)"
fi
if [[ -n "$rootfs" ]]; then
    command -v mkfs.ext4 >/dev/null || die "mkfs.ext4 not found (apt-get install e2fsprogs)"
    content_kib="$(du -sk --apparent-size "$root" | cut -f1)"
    extra_kib=$((content_kib / 4))
    ((extra_kib > headroom * 1024)) || extra_kib=$((headroom * 1024))
    # inodes and metadata: ~4 KiB per file on top of the data
    files="$(find "$root" | wc -l)"
    size_mib=$(((content_kib + extra_kib + files * 4) / 1024 + 8))
    mkdir -p "$(dirname "$rootfs")"
    rm -f "$rootfs"
    truncate -s "${size_mib}M" "$rootfs"
    mkfs.ext4 -q -F -L rootfs -E root_owner=0:0 -d "$root" "$rootfs"
    echo "guest image: ext4 $rootfs (${size_mib} MiB apparent, $(du -k "$rootfs" | cut -f1) KiB allocated)"
fi
