"""Build the Debian 12 (bookworm) systemd image the Molecule scenarios run on.

No registry can be reached, so the image is made here: `debootstrap` into a directory, then
`docker import`. The Debian mirror is the one this machine's apt already uses (read from
/etc/apt/sources.list and /etc/apt/sources.list.d at run time). Every package the roles install
is included, so a converge never needs the network.

The tag is a hash of everything that goes into the image (suite, package list, this recipe), so
an image is built once and reused until its content would change.

    .venv/bin/python tests/ansible/molecule_image.py   # build if missing, print the image ref
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "playbooks" / "roles"
SUITE = "bookworm"
REPOSITORY = "istiolab/molecule-debian12"
RECIPE_VERSION = "2"
# What Ansible and a systemd container need, beyond what the roles install.
BOOT_PACKAGES = ("systemd", "systemd-sysv", "dbus", "python3", "python3-apt", "ca-certificates")
# Role defaults whose lists name OS packages the roles install.
ROLE_PACKAGE_VARS = {
    "base": ("base_packages",),
    "firewall": ("firewall_packages",),
    "cluster_access": ("cluster_access_packages",),
}
IMPORT_CHANGES = (
    "ENV container=docker",
    'CMD ["/lib/systemd/systemd"]',
)


class ImageError(RuntimeError):
    """The image could not be built; the message says which step failed and why."""


def role_packages() -> list[str]:
    """Every OS package the provisioning roles install, from their defaults."""
    names: set[str] = set()
    for role, variables in ROLE_PACKAGE_VARS.items():
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
        for var in variables:
            value = defaults.get(var)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ImageError(f"{role}/defaults/main.yml: `{var}` must be a list of names")
            names.update(value)
    return sorted(names)


def packages() -> list[str]:
    return sorted(set(BOOT_PACKAGES) | set(role_packages()))


def image_ref() -> str:
    digest = hashlib.sha256(
        "\n".join([RECIPE_VERSION, SUITE, *packages(), *IMPORT_CHANGES]).encode()
    ).hexdigest()[:12]
    return f"{REPOSITORY}:{digest}"


def _deb822_entries(text: str) -> list[dict[str, str]]:
    entries, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                entries.append(current)
            current = {}
            continue
        if line.startswith("#") or line[0].isspace() or ":" not in line:
            continue
        key, value = line.split(":", 1)
        current[key.strip().lower()] = value.strip()
    if current:
        entries.append(current)
    return entries


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The URI of the first enabled apt source that serves the `bookworm` suite's `main`."""
    candidates: list[str] = []
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0]
            if "[" in line:  # drop the options: deb [signed-by=...] URI suite components
                line = line.split("[", 1)[0] + line.split("]", 1)[-1]
            words = line.split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == SUITE and "main" in words[3:]:
                candidates.append(words[1])
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for entry in _deb822_entries(path.read_text()):
            if entry.get("enabled", "yes").lower() == "no" or "deb" not in entry.get("types", ""):
                continue
            if (
                SUITE in entry.get("suites", "").split()
                and "main" in entry.get("components", "").split()
            ):
                candidates.extend(entry.get("uris", "").split())
    if not candidates:
        raise ImageError(
            f"no apt source for suite `{SUITE}` with component `main` in {apt_dir}/sources.list "
            f"or {apt_dir}/sources.list.d: debootstrap needs a Debian mirror"
        )
    return candidates[0]


def _run(cmd: list[str], what: str, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        raise ImageError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    return proc


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def build(ref: str | None = None) -> str:
    """Build the image unless it exists; return its reference. Safe to call concurrently."""
    ref = ref or image_ref()
    lock_path = Path(tempfile.gettempdir()) / "istiolab-molecule-image.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(ref):
            return ref
        if shutil.which("debootstrap") is None:
            raise ImageError("`debootstrap` is not installed (apt-get install debootstrap)")
        rootfs = Path(tempfile.mkdtemp(prefix="istiolab-rootfs-"))
        try:
            _run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(packages())}",
                    SUITE,
                    str(rootfs),
                    debian_mirror(),
                ],
                "debootstrap",
            )
            _prepare_rootfs(rootfs)
            tar = subprocess.Popen(
                ["tar", "-C", str(rootfs), "--numeric-owner", "--one-file-system", "-cf", "-", "."],
                stdout=subprocess.PIPE,
            )
            changes = [arg for change in IMPORT_CHANGES for arg in ("--change", change)]
            _run(["docker", "import", *changes, "-", ref], "docker import", stdin=tar.stdout)
            tar.wait()
        finally:
            _unmount_below(rootfs)
            shutil.rmtree(rootfs, ignore_errors=True)
    return ref


def _unmount_below(rootfs: Path) -> None:
    """Unmount what a failed debootstrap left mounted (proc, sys) before the tree is removed."""
    prefix = str(rootfs) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, check=False)


def _prepare_rootfs(rootfs: Path) -> None:
    """Trim what makes no sense in a container and leave apt with no stale lists."""
    for unit in (
        "getty.target",
        "systemd-udevd.service",
        "systemd-udev-trigger.service",
        "systemd-firstboot.service",
        "sys-kernel-config.mount",
        "sys-kernel-debug.mount",
    ):
        link = rootfs / "etc" / "systemd" / "system" / unit
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to("/dev/null")
    (rootfs / "etc" / "machine-id").write_text("")
    for cache in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        cache.unlink()
    # The containers have no network: date the package lists years back so any role that
    # would refresh the apt cache fails at once in every run, not only once the image is an
    # hour old (an explicit cache_valid_time makes apt refresh a stale cache).
    stale = time.mktime((2020, 1, 1, 0, 0, 0, 0, 0, -1))
    apt_lists = rootfs / "var" / "lib" / "apt" / "lists"
    stamp = rootfs / "var" / "lib" / "apt" / "periodic" / "update-success-stamp"
    for path in (*[p for p in apt_lists.iterdir() if p.is_file()], stamp, apt_lists):
        if path.exists():
            os.utime(path, (stale, stale))


if __name__ == "__main__":
    try:
        print(build())
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
