# chapter: 1
"""The syscall layer: thin, typed wrappers in the style of Rust's `nix`.

One module per man-page area. Flags are `enum.IntFlag`, a failed call raises
`OSError` naming the call, and no policy lives here. Every call, the ones
`os` already has included, goes through `dkr.linux.syscall.call`, so
`dkr --trace` can show each kernel call as it happens.
"""
