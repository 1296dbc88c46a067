# chapter: 9
"""dkr.image: images from a registry, made into a root file system.

A name such as `busybox` or `127.0.0.1:5000/app:1` is parsed the way Docker
parses it (`reference`); the registry client fetches the image's manifest,
config and layers by digest (`registry`); every blob goes into a content
store that checks each byte against its digest as it is written, so nothing
in it is trusted by name (`store`); and each layer is unpacked into its own
directory, never outside it (`unpack`), for overlayfs to stack.
"""
