"""Which filesystems to report, and their usage without ever hanging.

``statvfs`` on a dead NFS/CIFS/FUSE mount blocks in the kernel, uninterruptibly,
for as long as the server is gone. A collector thread stuck there would stall
host collection forever, so filesystems that can block are stat'ed in a
throw-away daemon thread with a bounded wait; a mount whose call has not
returned is skipped (and not stat'ed again) until that call returns, exactly
as node_exporter does. Local filesystems are stat'ed inline: they answer in
microseconds.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from watchkeeper.collect.procfs import read_mountinfo

__all__ = [
    "DEFAULT_EXCLUDE_FSTYPES",
    "DEFAULT_EXCLUDE_MOUNTPOINTS",
    "FilesystemUsage",
    "FilesystemWatcher",
    "Mount",
]

log = logging.getLogger(__name__)

#: Pseudo and read-only image filesystems: node_exporter's default list, plus tracing and
#: kernel-internal ones it also skips. tmpfs is kept (a full /run or /tmp breaks hosts).
DEFAULT_EXCLUDE_FSTYPES: tuple[str, ...] = (
    "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts",
    "devtmpfs", "efivarfs", "erofs", "fusectl", "hugetlbfs", "iso9660", "mqueue", "nsfs",
    "overlay", "proc", "procfs", "pstore", "ramfs", "rpc_pipefs", "securityfs", "selinuxfs",
    "squashfs", "sysfs", "tracefs",
)  # fmt: skip
#: Mountpoints under the kernel's pseudo trees and container runtimes' private layers
#: (node_exporter's default, as regexes matched against the whole mountpoint).
DEFAULT_EXCLUDE_MOUNTPOINTS: tuple[str, ...] = (
    r"/(dev|proc|sys|run/credentials/.+|var/lib/docker/.+|var/lib/containers/storage/.+)(/.*)?",
)
#: Filesystems whose statvfs may block on a remote server.
_MAY_BLOCK_FSTYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "gpfs",
     "davfs", "sshfs", "fuse"}
)  # fmt: skip
_STAT_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class Mount:
    device: str
    mountpoint: str
    fstype: str

    @property
    def may_block(self) -> bool:
        return self.fstype in _MAY_BLOCK_FSTYPES or self.fstype.startswith("fuse.")


@dataclass(frozen=True, slots=True)
class FilesystemUsage:
    mount: Mount
    size_bytes: int
    used_bytes: int
    #: Space an unprivileged user may still write (``df``'s Avail).
    free_bytes: int
    usage_percent: float
    inodes: int
    inodes_free: int


def compile_patterns(patterns: Sequence[str], what: str) -> re.Pattern[str] | None:
    """Join regexes into one fully anchored pattern; a clear error names the bad one."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{what}: invalid regular expression {pattern!r}: {exc}") from None
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.DOTALL)


class FilesystemWatcher:
    """Lists the mounted filesystems worth reporting and reads their usage."""

    def __init__(
        self,
        *,
        exclude_fstypes: Sequence[str],
        exclude_mountpoints: Sequence[str],
        stat_timeout: float = _STAT_TIMEOUT_S,
    ) -> None:
        self.stat_timeout = stat_timeout
        self._exclude_fstypes = frozenset(exclude_fstypes)
        self._exclude_mountpoints = compile_patterns(exclude_mountpoints, "exclude_mountpoints")
        self._use_mountinfo = sys.platform.startswith("linux")
        # Mountpoints with a statvfs call still outstanding: skipped until it returns.
        self._stuck: set[str] = set()
        self._stuck_lock = threading.Lock()

    def _wanted(self, fstype: str, mountpoint: str) -> bool:
        if fstype in self._exclude_fstypes:
            return False
        pattern = self._exclude_mountpoints
        return pattern is None or pattern.fullmatch(mountpoint) is None

    def mounts(self) -> list[Mount]:
        """Mounted filesystems after exclusions, one per filesystem (bind mounts folded)."""
        if self._use_mountinfo:
            try:
                return self._mounts_linux()
            except OSError:
                self._use_mountinfo = False
        return self._mounts_psutil()

    def _mounts_linux(self) -> list[Mount]:
        # Bind mounts share major:minor; keep the mount of the filesystem's root, else the
        # shortest mountpoint, so "/" wins over "/etc/hosts" in a container.
        best: dict[str, tuple[tuple[bool, int, str], Mount]] = {}
        for entry in read_mountinfo():
            if not self._wanted(entry.fstype, entry.mountpoint):
                continue
            rank = (entry.root != "/", len(entry.mountpoint), entry.mountpoint)
            kept = best.get(entry.dev_id)
            if kept is None or rank < kept[0]:
                best[entry.dev_id] = (rank, Mount(entry.device, entry.mountpoint, entry.fstype))
        return sorted((m for _, m in best.values()), key=lambda m: m.mountpoint)

    def _mounts_psutil(self) -> list[Mount]:
        import psutil

        seen: dict[tuple[str, str], Mount] = {}
        for part in psutil.disk_partitions(all=True):
            if not self._wanted(part.fstype, part.mountpoint):
                continue
            # Without device ids, a real device mounted twice is the same filesystem;
            # "none"/"tmpfs"-like sources are distinct instances.
            key = (
                (part.device, "") if part.device.startswith("/") else (part.device, part.mountpoint)
            )
            kept = seen.get(key)
            if kept is None or len(part.mountpoint) < len(kept.mountpoint):
                seen[key] = Mount(part.device, part.mountpoint, part.fstype)
        return sorted(seen.values(), key=lambda m: m.mountpoint)

    def usage(self, mounts: Sequence[Mount]) -> list[FilesystemUsage]:
        """Usage of each mount; mounts that fail or may hang are left out, never raised."""
        result = []
        for mount in mounts:
            try:
                if mount.may_block:
                    st = self._statvfs_bounded(mount.mountpoint)
                    if st is None:
                        continue
                else:
                    st = os.statvfs(mount.mountpoint)
            except OSError as exc:
                log.debug("statvfs(%r) failed: %s", mount.mountpoint, exc)
                continue
            result.append(_usage(mount, st))
        return result

    def _statvfs_bounded(self, mountpoint: str) -> os.statvfs_result | None:
        with self._stuck_lock:
            if mountpoint in self._stuck:
                return None
            self._stuck.add(mountpoint)
        outcome: list[os.statvfs_result | OSError] = []
        done = threading.Event()

        def run() -> None:
            try:
                outcome.append(os.statvfs(mountpoint))
            except OSError as exc:
                outcome.append(exc)
            finally:
                with self._stuck_lock:
                    self._stuck.discard(mountpoint)
                done.set()

        threading.Thread(target=run, name=f"statvfs {mountpoint}", daemon=True).start()
        if not done.wait(self.stat_timeout):
            log.warning("statvfs(%r) has not returned after %.1f s: skipping this mount until "
                        "it does", mountpoint, self.stat_timeout)  # fmt: skip
            return None
        value = outcome[0]
        if isinstance(value, OSError):
            raise value
        return value


def _usage(mount: Mount, st: os.statvfs_result) -> FilesystemUsage:
    frsize = st.f_frsize or st.f_bsize
    size = st.f_blocks * frsize
    used = (st.f_blocks - st.f_bfree) * frsize
    avail = st.f_bavail * frsize
    # df's Use%: used over what non-root users can reach (root-reserved blocks excluded).
    reachable = used + avail
    percent = used * 100.0 / reachable if reachable else 0.0
    return FilesystemUsage(
        mount=mount,
        size_bytes=size,
        used_bytes=used,
        free_bytes=avail,
        usage_percent=min(percent, 100.0),
        inodes=st.f_files,
        inodes_free=st.f_ffree,
    )
