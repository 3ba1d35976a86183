#!/usr/bin/env python3
"""Writes a newc (SVR4, no CRC) cpio archive of a directory tree: the initramfs format the kernel unpacks.

    mkcpio.py DIR OUT [--node PATH:c:MAJOR:MINOR:MODE ...]

Entries are stored with uid/gid 0 (the guest's root), in sorted order, parents before children. Regular
files, directories and symlinks are supported; `--node` adds character-device entries that need not exist on
the host (e.g. /dev/console, which the kernel opens for PID 1's stdio before any devtmpfs is mounted).
"""
import os
import stat
import sys

ino = 0


def header(name: bytes, mode: int, nlink: int, mtime: int, size: int, rdev_major=0, rdev_minor=0) -> bytes:
    global ino
    ino += 1
    fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, rdev_major, rdev_minor, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields) + name + b"\0"


def pad(n: int) -> bytes:
    return b"\0" * ((4 - n % 4) % 4)


def entry(out, name: str, mode: int, data: bytes = b"", nlink=1, mtime=0, major=0, minor=0):
    raw = name.encode()
    h = header(raw, mode, nlink, mtime, len(data), major, minor)
    out.write(h)
    out.write(pad(len(h)))
    out.write(data)
    out.write(pad(len(data)))


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    root, target = argv[1], argv[2]
    nodes = []
    i = 3
    while i < len(argv):
        if argv[i] != "--node" or i + 1 >= len(argv):
            sys.stderr.write("mkcpio.py: bad argument %r\n" % argv[i])
            return 2
        path, kind, major, minor, mode = argv[i + 1].split(":")
        if kind != "c":
            sys.stderr.write("mkcpio.py: only character nodes are supported\n")
            return 2
        nodes.append((path.lstrip("/"), int(major), int(minor), int(mode, 8)))
        i += 2
    if not os.path.isdir(root):
        sys.stderr.write("mkcpio.py: %s is not a directory\n" % root)
        return 2
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            paths.append(rel)
        for f in sorted(filenames):
            paths.append(os.path.normpath(os.path.join(rel, f)))
        # os.walk does not descend into symlinked directories but lists them in dirnames
        for d in dirnames:
            if os.path.islink(os.path.join(dirpath, d)):
                paths.append(os.path.normpath(os.path.join(rel, d)))
    existing = set(paths)
    with open(target + ".tmp", "wb") as out:
        for rel in paths:
            full = os.path.join(root, rel)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                entry(out, rel, st.st_mode, os.readlink(full).encode(), mtime=int(st.st_mtime))
            elif stat.S_ISDIR(st.st_mode):
                if os.path.islink(full):
                    continue
                entry(out, rel, st.st_mode, nlink=2, mtime=int(st.st_mtime))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    entry(out, rel, st.st_mode, f.read(), mtime=int(st.st_mtime))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                entry(out, rel, st.st_mode, major=os.major(st.st_rdev), minor=os.minor(st.st_rdev))
            elif stat.S_ISFIFO(st.st_mode):
                entry(out, rel, st.st_mode)
            # sockets are skipped
        for path, major, minor, mode in nodes:
            if path not in existing:
                entry(out, path, stat.S_IFCHR | mode, major=major, minor=minor)
        entry(out, "TRAILER!!!", 0, nlink=1)
        size = out.tell()
        out.write(b"\0" * ((512 - size % 512) % 512))
    os.replace(target + ".tmp", target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
