#!/usr/bin/env python3
"""Builds the test images as OCI layouts (image-spec image-layout.md) from trees described here, so every byte of
every layer is known: whiteouts, an opaque directory, a hard link, a symlink, gzip and zstd layers, and indexes.

    make_images.py OUT_DIR BUSYBOX      → OUT_DIR/<name>/ (one layout per image, tag "test") and OUT_DIR/expected.json

expected.json maps each image to the sorted `find /data` listing its workload must print in the VM."""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

OUT, BUSYBOX = sys.argv[1], sys.argv[2]
MTIME = 1_700_000_000
APPLETS = ["sh", "find", "sort", "cat", "ls"]


def tar(entries):
    """entries: (name, kind, payload, mode): kind f (payload bytes), d, l (symlink target), h (hard link target), w (whiteout)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload, mode in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.mode, info.uid, info.gid = MTIME, mode, 0, 0
            if kind in "fw":
                data = payload if kind == "f" else b""
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                continue
            info.type = {"d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE}[kind]
            info.linkname = payload or ""
            t.addfile(info)
    return buf.getvalue()


def busybox_entries():
    with open(BUSYBOX, "rb") as f:
        data = f.read()
    return [("bin", "d", None, 0o755), ("bin/busybox", "f", data, 0o755)] + \
        [(f"bin/{a}", "l", "busybox", 0o777) for a in APPLETS]


def blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
    with open(f"{layout}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout, \
            "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def manifest(layout, layers, cmd, arch="amd64", garbage=False):
    """layers: [(entries, compression)]. Returns the manifest's descriptor."""
    descriptors, diff_ids = [], []
    for entries, how in layers:
        raw = tar(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        data, media = compress(raw, how)
        if garbage:
            data = bytes((i * 2654435761 >> 7) & 0xFF for i in range(len(data)))
        descriptors.append(dict(mediaType=media, **blob(layout, data)))
    config = {"architecture": arch, "os": "linux",
              "config": {"Entrypoint": ["/bin/sh", "-c"], "Cmd": [cmd], "Env": ["PATH=/bin", "IMAGE_TEST=1"],
                         "WorkingDir": "/data", "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "config": dict(mediaType="application/vnd.oci.image.config.v1+json", **blob(layout, json.dumps(config).encode())),
         "layers": descriptors}
    return dict(mediaType=m["mediaType"], **blob(layout, json.dumps(m).encode()),
                platform={"architecture": arch, "os": "linux"})


def layout(name, top):
    """Writes the layout's index.json naming `top` (a manifest or an index descriptor) as tag "test"."""
    path = f"{OUT}/{name}"
    top = dict(top)
    top.pop("platform", None) if top["mediaType"].endswith("index.v1+json") else None
    top["annotations"] = {"org.opencontainers.image.ref.name": "test"}
    with open(f"{path}/oci-layout", "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)


def index(path, manifests):
    i = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
    return dict(mediaType=i["mediaType"], **blob(path, json.dumps(i).encode()))


LIST = "find /data | sort"
expected = {}

# basic: busybox and a few files, one gzip layer.
p = f"{OUT}/basic"
layout("basic", manifest(p, [(busybox_entries() + [("data", "d", None, 0o755), ("data/hello.txt", "f", b"hello\n", 0o644),
                                                   ("data/sub", "d", None, 0o755), ("data/sub/x", "f", b"x", 0o600)], "gzip")],
                         LIST + "; cat /data/hello.txt; echo cwd=$(pwd) env=$IMAGE_TEST"))
expected["basic"] = ["/data", "/data/hello.txt", "/data/sub", "/data/sub/x", "hello", "cwd=/data env=1"]

# layers: deletions by whiteouts, an opaque directory, a hard link and a symlink; gzip, zstd and plain tar layers.
p = f"{OUT}/layers"
one = busybox_entries() + [("data", "d", None, 0o755)] + \
    [(f"data/{n}", "f", n.encode(), 0o644) for n in ("a", "b", "c")] + \
    [("data/dir", "d", None, 0o755), ("data/dir/x", "f", b"x", 0o644), ("data/dir/y", "f", b"y", 0o644),
     ("data/opq", "d", None, 0o755), ("data/opq/old1", "f", b"1", 0o644), ("data/opq/old2", "f", b"2", 0o644)]
two = [("data/.wh.b", "w", None, 0o644), ("data/dir/.wh.x", "w", None, 0o644), ("data/d", "f", b"d", 0o644)]
three = [("data/opq", "d", None, 0o755), ("data/opq/.wh..wh..opq", "w", None, 0o644), ("data/opq/new", "f", b"n", 0o644),
         ("data/d-link", "h", "data/d", 0o644), ("data/s", "l", "d", 0o777)]
layout("layers", manifest(p, [(one, "gzip"), (two, "zstd"), (three, "none")], LIST + "; cat /data/s /data/d-link"))
expected["layers"] = ["/data", "/data/a", "/data/c", "/data/d", "/data/d-link", "/data/dir", "/data/dir/y", "/data/opq",
                      "/data/opq/new", "/data/s", "dd"]

# multi: an index with linux/arm64 and linux/amd64; each writes its platform into /data/platform.
p = f"{OUT}/multi"
arm = manifest(p, [([("data", "d", None, 0o755), ("data/platform", "f", b"arm64\n", 0o644)], "gzip")], LIST, arch="arm64")
amd = manifest(p, [(busybox_entries() + [("data", "d", None, 0o755), ("data/platform", "f", b"amd64\n", 0o644)], "gzip")],
               LIST + "; cat /data/platform")
layout("multi", index(p, [arm, amd]))
expected["multi"] = ["/data", "/data/platform", "amd64"]

# armonly: an index with linux/arm64 only (a pull for linux/amd64 must fail).
p = f"{OUT}/armonly"
layout("armonly", index(p, [manifest(p, [([("data", "d", None, 0o755)], "gzip")], LIST, arch="arm64")]))

# garbage: a "gzip" layer of random bytes whose digest and size are right (download passes, unpack must fail).
p = f"{OUT}/garbage"
layout("garbage", manifest(p, [([("data", "d", None, 0o755)], "gzip")], LIST, garbage=True))

with open(f"{OUT}/expected.json", "w") as f:
    json.dump(expected, f, indent=1)
