# chapter: 10
"""The OCI runtime: dkr driven by engines, as they drive runc.

`create`, `start`, `state`, `kill` and `delete` of the runtime spec, on the
one container life of `dkr.container`, read from a bundle's config.json.
"""
