# chapter: 7
"""Seccomp: a filter that decides every system call of the container.

`profile` holds dkr's default profile, Docker's decisions written as data;
`compiler` turns any OCI profile, that one or a user's, into the classic-BPF
program the kernel runs at each call.
"""
