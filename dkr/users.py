# chapter: 6
"""Whom the container's command runs as: `--user`, and the switch to it.

Names belong to the container: `--user www-data` means the www-data of the
container's /etc/passwd, which may be another uid than the host's, or none.
So a name is looked up in the container's own files, after pivot_root,
where nothing of the host can be read by mistake (`resolve`). The switch
itself (`switch_to`) changes every id, real, effective and saved, and the
supplementary groups, so that nothing of root is left to go back to.
"""

from __future__ import annotations

from dataclasses import dataclass

from dkr.config import Process, User
from dkr.errors import DkrError, shorten
from dkr.linux import prctl, unistd


@dataclass(frozen=True)
class Entry:
    """One line of /etc/passwd or /etc/group, the fields dkr reads."""

    name: str
    id: int
    gid: int = 0  # passwd: the primary group
    home: str = "/"  # passwd
    members: tuple[str, ...] = ()  # group


def parse_passwd(text: str) -> list[Entry]:
    """The entries of an /etc/passwd text ("name:x:uid:gid:gecos:home:shell");
    malformed lines are skipped, as libc does."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[2].isdigit() and fields[3].isdigit():
            entries.append(Entry(fields[0], int(fields[2]), int(fields[3]),
                                 fields[5] or "/"))
    return entries


def parse_group(text: str) -> list[Entry]:
    """The entries of an /etc/group text ("name:x:gid:member,member")."""
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[2].isdigit():
            members = tuple(name for name in fields[3].split(",") if name)
            entries.append(Entry(fields[0], int(fields[2]), members=members))
    return entries


def _read(path: str) -> str:
    """A file of the container's /etc, or nothing if it has none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read()
    except FileNotFoundError:
        return ""


def _find(entries: list[Entry], key: str) -> Entry | None:
    """The entry named `key`, else (for a number) the first with that id."""
    for entry in entries:
        if entry.name == key:
            return entry
    if key.isdigit():
        for entry in entries:
            if entry.id == int(key):
                return entry
    return None


def _group_id(groups: list[Entry], key: str, what: str) -> int:
    entry = _find(groups, key)
    if entry is not None:
        return entry.id
    if key.isdigit():
        return int(key)
    raise DkrError(f"{what} {shorten(key)!r}: no such group in the container's "
                   f"/etc/group")


def resolve(process: Process) -> None:
    """Fill in `process.user` from its lookups ("USER[:GROUP]", names or
    numbers) as Docker does: the uid and primary group from /etc/passwd
    (a uid without an entry gets group 0), GROUP from /etc/group, then
    the groups that list the user and those of --group-add; HOME from
    passwd unless the environment sets it. In the child, after pivot_root."""
    user = process.user
    if user.lookup is None and not user.add_groups:
        return
    name, _, group = (user.lookup or str(user.uid)).partition(":")
    passwd = parse_passwd(_read("/etc/passwd"))
    groups = parse_group(_read("/etc/group"))
    entry = _find(passwd, name)
    if entry is None and not name.isdigit():
        raise DkrError(f"--user {shorten(name)!r}: no such user in the container's "
                       f"/etc/passwd (give a uid, such as --user 1000)")
    user.uid = entry.id if entry else int(name)
    user.gid = _group_id(groups, group, "--user group") if group else (
        entry.gid if entry else 0)
    listed = [g.id for g in groups if entry and entry.name in g.members]
    added = [_group_id(groups, key, "--group-add") for key in user.add_groups]
    user.additional_gids = list(dict.fromkeys([*listed, *added, *user.additional_gids]))
    if not any(item.startswith("HOME=") for item in process.env):
        process.env.append(f"HOME={entry.home if entry else '/'}")


def _setgroups_allowed() -> bool:
    """Whether setgroups(2) may be called: a user namespace can deny it."""
    return _read("/proc/self/setgroups").strip() != "deny"


def switch_to(user: User) -> None:
    """Become `user`: supplementary groups, then the gids, then the uids
    (after the uids, changing groups needs a capability dkr no longer has).
    Capabilities are kept across the switch (PR_SET_KEEPCAPS), for
    `capabilities.set_sets` to set as the spec says. runc calls setgroups
    even with no groups, so that root's own groups never reach the
    container."""
    if user.umask is not None:
        unistd.umask(user.umask)
    if _setgroups_allowed():
        unistd.setgroups(user.additional_gids)
    unistd.setresgid(user.gid, user.gid, user.gid)
    if user.uid != 0:
        prctl.set_keepcaps(True)
        unistd.setresuid(user.uid, user.uid, user.uid)
        prctl.set_keepcaps(False)
