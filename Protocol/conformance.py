#!/usr/bin/env python3
"""An independent conformance client for PROTOCOL.md (version 1), written from the document alone (stdlib only).

    conformance.py guest PATH     vm-init serving `--listen unix:PATH`. Ends by sending `shutdown`.
    conformance.py control PATH   an `fc-supervisor run` control.sock (§11). Ends by sending `shutdown`.

Prints one line per check ("ok" or "FAIL"), then a summary; exits 0 only when every check passed. Each section
uses fresh connections, so one failure does not hide the others. Section numbers refer to PROTOCOL.md.
Safe on a development machine: `set_time` is only sent with a time the kernel refuses, `network` only with
values the guest must refuse before touching anything.
"""
import sys

import conformance_control as control
import conformance_guest as guest
from conformance_lib import results, section


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("guest", "control"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "guest":
        steps = [("opening", guest.g_opening), ("framing", guest.g_framing), ("exec", guest.g_exec),
                 ("stdin", guest.g_stdin),
                 ("tty", guest.g_tty), ("reattach", guest.g_reattach),
                 ("two connections", guest.g_two_connections), ("shutdown", guest.g_shutdown)]
    else:
        steps = [("ready", control.c_wait_ready), ("opening", control.c_opening),
                 ("framing", control.c_framing), ("sessions", control.c_sessions),
                 ("stdin descriptor", control.c_stdin_descriptor),
                 ("output descriptors", control.c_output_descriptors), ("workload", control.c_workload_and_shutdown)]
    for name, fn in steps:
        section(name, fn, path)
    failed = results.count(False)
    print(f"conformance {mode}: {len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
