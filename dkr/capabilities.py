# chapter: 6
"""Root without root's power: the capability sets a container keeps.

Root's power is about forty capabilities (capabilities(7)), each checked
on its own by the kernel: CAP_SYS_ADMIN to mount, CAP_SYS_TIME to set the
clock, CAP_DAC_READ_SEARCH to open files by handle. A container's root
keeps only those of Docker's default list, unless told otherwise.

The sets are applied in the order the kernel allows (see `drop_bounding`
and `set_sets`): the bounding set first, while the process still holds
CAP_SETPCAP; the others after the switch of user, which would empty them.
"""

from __future__ import annotations

from dkr.config import Capabilities
from dkr.errors import DkrError, shorten
from dkr.linux import prctl
from dkr.linux.capability import CapSets, capget, capset, last_cap
from dkr.linux.capability_table import Cap


def parse_name(text: str) -> str:
    """A capability as `--cap-add` takes it ("net_admin", "CAP_NET_ADMIN",
    "ALL"), as the spec names it ("CAP_NET_ADMIN", or "ALL")."""
    name = text.strip().upper()
    if name == "ALL":
        return name
    if not name.startswith("CAP_"):
        name = f"CAP_{name}"
    if name not in Cap.__members__:
        raise DkrError(f"unknown capability {shorten(text)!r}: give a name of "
                       f"capabilities(7), such as NET_ADMIN or CAP_NET_ADMIN, or ALL")
    return name


def every_name() -> list[str]:
    """All the capabilities dkr may hand on, by name: those of its own
    bounding set (the kernel's, unless dkr runs confined itself), as
    Podman reads ALL."""
    top = last_cap()
    return [cap.name for cap in Cap if cap <= top and prctl.capbset_read(cap)]


def resolve(default: tuple[str, ...], add: list[str], drop: list[str]) -> list[str]:
    """Docker's rule for --cap-add and --cap-drop over the default list:
    ALL in the adds starts from everything, ALL in the drops from nothing;
    drops are taken away, then adds are added, so `--cap-drop ALL --cap-add
    CHOWN` keeps CAP_CHOWN alone, and an add wins over a drop. The result
    is in the kernel's order."""
    add = [parse_name(name) for name in add]
    drop = [parse_name(name) for name in drop]
    if "ALL" in drop:
        kept = set(every_name()) if "ALL" in add else set()
    else:
        kept = (set(every_name()) if "ALL" in add else set(default)) - set(drop)
    kept |= set(add) - {"ALL"}
    return [cap.name for cap in Cap if cap.name in kept]


def for_container(names: list[str]) -> Capabilities:
    """The sets `names` give the container, as Docker fills them: bounding,
    effective and permitted; inheritable and ambient empty. (A non-empty
    inheritable set lets a program with inheritable file capabilities gain
    them at exec: CVE-2022-24769.)"""
    return Capabilities(bounding=list(names), effective=list(names),
                        permitted=list(names))


def _caps(names: list[str]) -> frozenset[Cap]:
    """Names as capabilities; those this kernel lacks are left out (it
    could not grant them), as runc does."""
    top = last_cap()
    return frozenset(Cap[name] for name in names if Cap[name] <= top)


def drop_bounding(capabilities: Capabilities | None) -> None:
    """Take every capability not in the bounding set out of it, for good:
    no exec, not even of a setuid-root program, can bring them back. It
    needs CAP_SETPCAP, so it comes before the switch of user."""
    if capabilities is None:
        return
    keep = _caps(capabilities.bounding)
    top = last_cap()
    for cap in Cap:
        if cap <= top and cap not in keep:
            prctl.capbset_drop(cap)


def set_sets(capabilities: Capabilities | None) -> None:
    """After the switch of user: the effective, permitted and inheritable
    sets, then the ambient set (the kernel refuses an ambient capability
    that is not both permitted and inheritable, so a spec that asks for one
    must list it as inheritable too). For root, exec makes the permitted
    and effective sets the bounding set again; for another user, only
    ambient capabilities survive exec."""
    if capabilities is None:
        return
    wanted = CapSets(effective=_caps(capabilities.effective),
                     permitted=_caps(capabilities.permitted),
                     inheritable=_caps(capabilities.inheritable))
    missing = wanted.permitted - capget().permitted
    if missing:  # a set can only shrink: dkr cannot give what it lacks
        shown = ", ".join(cap.name for cap in sorted(missing))
        raise DkrError(f"dkr itself lacks {shown}, so the container cannot have it: "
                       f"run dkr with it, or drop it (--cap-drop)")
    capset(wanted)
    prctl.cap_ambient_clear_all()
    for cap in sorted(_caps(capabilities.ambient)):
        prctl.cap_ambient_raise(cap)
