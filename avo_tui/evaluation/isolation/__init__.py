"""Keeping the candidate away from the harness and from other candidates: the warm worker
process the parent talks to (worker.py), the runner process a C candidate is confined in
(runner.py), and its walls (sandbox.py: seccomp, credentials, limits, with the system call
numbers of syscalls.py; landlock.py: what it may read). runner.py, sandbox.py, syscalls.py and
landlock.py are loaded by file path, from this folder."""
