# chapter: 7
"""Seccomp profiles from JSON: `--security-opt seccomp=PROFILE.json`.

Two forms are taken. The OCI one is `linux.seccomp` of a config.json. The
engines' one (Docker's and Podman's default.json) adds, per rule,
`includes` and `excludes` on the container's capabilities and the
machine's architecture, and an `archMap`; dkr resolves those for the
container, as the engines do before they hand a config to their runtime.
An invalid profile is one error that names the field.
"""

from __future__ import annotations

import json

from dkr.config import SeccompArg, Seccomp, SyscallRule
from dkr.errors import DkrError, shorten, warn
from dkr.linux import syscall_table
from dkr.seccomp.compiler import NATIVE

# The engines' names for a machine's architectures.
ENGINE_ARCHES = {"x86_64": ("amd64", "x86", "x32"), "aarch64": ("arm64", "arm")}


def read_profile(path: str, capabilities: list[str], machine: str) -> Seccomp:
    """The profile in the file at `path`, resolved for the container."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except OSError as error:
        raise DkrError(f"cannot read the seccomp profile {shorten(path)}: "
                       f"{error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DkrError(f"the seccomp profile {shorten(path)} is not JSON: "
                       f"{error}") from None
    profile = from_json(data, capabilities, machine, where=shorten(path))
    tables = (syscall_table.X86_64, syscall_table.I386, syscall_table.X32,
              syscall_table.AARCH64)
    known = {name for table in tables for name in table}
    unknown = sorted({name for rule in profile.syscalls for name in rule.names} - known)
    if unknown:  # as runc: a name no ABI has is left out, with a word
        more = " …" if len(unknown) > 5 else ""
        warn(f"seccomp profile {shorten(path)}: no such syscall, left out: "
             f"{', '.join(unknown[:5])}{more}")
    return profile


def from_json(data: object, capabilities: list[str], machine: str,
              where: str = "the profile") -> Seccomp:
    """A profile's JSON (either form) as the OCI model."""
    profile = Fields(data, where)
    architectures = profile.strings("architectures")
    for entry in profile.objects("archMap"):  # the engines': this machine's entry
        if entry.string("architecture") == NATIVE.get(machine):
            architectures += [entry.string("architecture"),
                              *entry.strings("subArchitectures")]
    rules = []
    for entry in profile.objects("syscalls"):
        if not _applies(entry, capabilities, machine):
            continue
        names = (entry.strings("names") if "names" in entry.data
                 else [entry.string("name")])
        if not names:
            raise DkrError(f"{entry.where}.names: give at least one syscall name")
        args = [SeccompArg(index=arg.number("index", required=True),
                           value=arg.number("value", required=True),
                           op=arg.string("op"), value_two=arg.number("valueTwo") or 0)
                for arg in entry.objects("args")]
        action, errno_ret = entry.string("action"), entry.number("errnoRet")
        rules.append(SyscallRule(names, action, errno_ret, args))
    return Seccomp(default_action=profile.string("defaultAction"),
                   default_errno_ret=profile.number("defaultErrnoRet"),
                   architectures=list(dict.fromkeys(architectures)),
                   flags=profile.strings("flags"), syscalls=rules)


def _applies(entry: Fields, capabilities: list[str], machine: str) -> bool:
    """Whether an engine-form rule's includes and excludes keep it here."""
    arches = set(ENGINE_ARCHES.get(machine, (machine,)))
    includes, excludes = entry.object("includes"), entry.object("excludes")
    need_caps, need_arches = includes.strings("caps"), includes.strings("arches")
    if need_caps and not set(need_caps) <= set(capabilities):
        return False
    if need_arches and not set(need_arches) & arches:
        return False
    if set(excludes.strings("caps")) & set(capabilities):
        return False
    return not set(excludes.strings("arches")) & arches


class Fields:
    """A JSON object of the profile, read field by field: a field of the
    wrong type is an error that names it (`syscalls[3].args[0].value`)."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise DkrError(f"{where}: give a JSON object")
        self.data, self.where = data, where

    def name(self, key: str) -> str:
        """How an error names the field `key` of this object."""
        if key.startswith("["):
            return f"{self.where}{key}"
        return f"{self.where}.{key}" if ":" in self.where else f"{self.where}: {key}"

    def string(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise DkrError(f"{self.name(key)}: give a string")
        return value

    def number(self, key: str, required: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise DkrError(f"{self.name(key)}: give a whole number, 0 or more")
        return value

    def _list(self, key: str) -> list:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise DkrError(f"{self.name(key)}: give a JSON array")
        return value

    def _by_place(self, key: str) -> tuple[Fields, list[str]]:
        """An array's items as the fields "[0]", "[1]"…, so that each is read
        (and named in an error) as a field is; and their keys."""
        items = self._list(key)
        places = [f"[{n}]" for n in range(len(items))]
        return Fields(dict(zip(places, items)), self.name(key)), places

    def strings(self, key: str) -> list[str]:
        holder, places = self._by_place(key)
        return [holder.string(place) for place in places]

    def objects(self, key: str) -> list[Fields]:
        return [Fields(item, f"{self.name(key)}[{n}]")
                for n, item in enumerate(self._list(key))]

    def object(self, key: str) -> Fields:
        return Fields(self.data.get(key) or {}, self.name(key))
    # chapter: 10 {

    def required(self, key: str) -> Fields:
        if key not in self.data:
            raise DkrError(f"{self.name(key)}: missing: give it")
        return Fields(self.data[key], self.name(key))

    def text(self, key: str) -> str:
        """An optional string: "" when absent."""
        value = self.data.get(key)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise DkrError(f"{self.name(key)}: give a string")
        return value

    def boolean(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise DkrError(f"{self.name(key)}: give true or false")
        return value

    def integer(self, key: str) -> int | None:
        """An optional whole number, negative ones too."""
        value = self.data.get(key)
        if value is not None and (isinstance(value, bool)
                                  or not isinstance(value, int)):
            raise DkrError(f"{self.name(key)}: give a whole number")
        return value

    def numbers(self, key: str) -> list[int]:
        holder, places = self._by_place(key)
        return [holder.number(place, required=True) or 0 for place in places]

    def mapping(self, key: str) -> dict[str, str]:
        """An object of strings, such as `annotations`."""
        value = self.data.get(key) or {}
        if not isinstance(value, dict) or not all(
                isinstance(item, str) for item in value.values()):
            raise DkrError(f"{self.name(key)}: give an object of strings")
        return dict(value)
    # }
