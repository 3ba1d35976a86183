#!/usr/bin/env bash
# Fails when a raw libc call appears in Sources/ outside LinuxSystem and CLinux: LinuxSystem is the only door
# to libc (one EINTR policy, one would-block shape, one error type). Prints file:line: text for every hit.
#
# A hit is a bare call `name(` or a qualified `Glibc.name(` of a name on the deny-list below. Not hits:
#   - method calls and declarations (`fd.read(`, `func close(`, `case shutdown(`);
#   - calls whose first argument is a label, a `.member` or nothing (`close(error:`, `sleep(for:`,
#     `send(.error(…))`, `poll()`): libc functions take positional arguments, so these are Swift functions;
#   - comment lines. Every file is checked, whatever it imports: libc's functions leak into a module through
#     any module that imports Glibc.
# Escape: `// lint-syscalls: allow` on the line itself, for a call that must stay (say why beside it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# I/O, descriptors, files, directories, sockets, polling, sleeping, terminals, processes, limits.
calls=(
    open openat creat read pread readv write pwrite writev close dup dup2 dup3 fcntl ioctl
    pipe pipe2 poll ppoll select epoll_create epoll_create1 epoll_ctl epoll_wait
    opendir fdopendir readdir closedir mkdir rmdir unlink unlinkat rename link symlink readlink
    stat lstat fstat chmod chown lchown truncate ftruncate mkstemp mkostemp mkdtemp flock fsync
    socket socketpair bind listen accept accept4 connect shutdown send recv sendmsg recvmsg
    getsockopt setsockopt usleep nanosleep sleep clock_gettime
    tcgetattr tcsetattr cfmakeraw isatty execve execvp waitpid kill
    getrlimit setrlimit sigaction sigprocmask signalfd if_nametoindex
)
LINT_NAMES="$(IFS='|'; echo "${calls[*]}")"
export LINT_NAMES

# shellcheck disable=SC2016  # Perl, not shell, expands these.
matcher='
    BEGIN { $names = $ENV{LINT_NAMES} }
    next if m{^\s*//};
    next if /lint-syscalls: allow/;
    if (/(?:(?<![.\w])(?<!func )(?<!case )|Glibc\.)(?:$names)\((?!\s*(?:\)|\.|[A-Za-z_]\w*\s*:(?!:)))/) {
        chomp;
        print "$ARGV:$.: $_\n";
    }
'

hits=0
while IFS= read -r -d '' file; do
    case "$file" in
        Sources/LinuxSystem/* | Sources/CLinux/*) continue ;;
    esac
    while IFS= read -r hit; do
        echo "$hit"
        hits=$((hits + 1))
    done < <(perl -ne "$matcher" "$file")
done < <(find Sources -name '*.swift' -print0 | sort -z)

if ((hits > 0)); then
    echo "lint-syscalls: $hits raw libc call(s) outside LinuxSystem; call (or add) a LinuxSystem wrapper." >&2
    exit 1
fi
echo "lint-syscalls: ok"
