# chapter: 9
"""`dkr run IMAGE [COMMAND…]`: an image's layers as the root, its config as defaults.

dkr's `run` took a command of its default root file system since chapter
1 (`dkr run sh`), and Docker's takes an image first (`docker run busybox
sh`). Both stay: the first word is an image when the store has an image of
that name (or id); a word that can only be an image's name (it has a
registry, a tag or a digest: `127.0.0.1:5000/app`, `busybox:1.36`) and is
not here is an error that says to pull it; any other word is a command of
the default root file system, as before. dkr pulls nothing by itself: what
runs is always what `dkr pull` (or `dkr load`) brought and `dkr images` lists.

From the image's config, as Docker does: the command is its Entrypoint
followed by the arguments given (or its Cmd when none are), its Env comes
before `-e`, and its WorkingDir and User apply unless `-w` and `-u` say
otherwise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dkr.config import Spec
from dkr.defaults import DATA_DIR
from dkr.errors import DkrError, shorten

if TYPE_CHECKING:  # the store is read only when it exists: a cost of every `dkr run`
    from dkr.image.images import Image
    from dkr.image.manifest import Config

# A name that only an image can have: a registry part, a tag or a digest.
IMAGE_ONLY = re.compile(r"[^/]*[.:][^/]*/.+|localhost/.+|[^/:@]+(/[^/:@]+)*[:@].+")


@dataclass
class ImageToRun:
    """An image found for `dkr run`, with the name it was asked by."""

    name: str
    image: Image
    config: Config
    layers: list[str]


def find(word: str) -> ImageToRun | None:
    """The image `dkr run`'s first word names, or None if it is a command."""
    if not word or word.startswith(("/", ".", "-")):
        return None
    image = images = None
    if os.path.exists(DATA_DIR / "image" / "images.json"):
        from dkr.image.images import Images

        images = Images()
        image = images.find(word)
    if image is None and images is not None:
        from dkr.image.reference import BadReference, parse

        try:
            image = images.find(str(parse(word)))
        except BadReference:
            return None
    if image is None:
        if IMAGE_ONLY.fullmatch(word):
            raise DkrError(f"no such image here: {shorten(word)} (pull it first: "
                           f"`python3 -m dkr pull {shorten(word)}`)")
        return None
    return ImageToRun(word, image, images.config(image), images.layer_paths(image))


def apply(spec: Spec, found: ImageToRun, arguments: list[str], user_env: list[str],
          workdir_given: bool, user_given: bool) -> None:
    """Make `spec`, built from dkr run's options, run the image: `arguments`
    are the words after its name, `user_env` the -e variables (the last
    of `spec.process.env`)."""
    config = found.config
    command = config.entrypoint + (arguments or config.cmd)
    if not command:
        raise DkrError(f"the image {shorten(found.name)} has no Entrypoint or Cmd: "
                       f"give a command after its name")
    process = spec.process
    process.args = command
    own = process.env[:len(process.env) - len(user_env)]
    process.env = merged(own + config.env + user_env)
    if config.working_dir and not workdir_given:
        process.cwd = config.working_dir
    if config.user and not user_given:
        process.user.lookup = config.user
    spec.root.layers = found.layers


def merged(variables: list[str]) -> list[str]:
    """KEY=VALUE items, a later KEY replacing an earlier one in its place:
    dkr's PATH and HOSTNAME, then the image's Env, then -e's."""
    by_key: dict[str, str] = {}
    for item in variables:
        by_key[item.partition("=")[0]] = item
    return list(by_key.values())
