"""The process a CPU candidate runs in:
``python -I -S runner.py SOCKET ARENA SIZE LIBRARY ENTRY SIGNATURE``.

Started by the worker (cpu.RunnerKernel), never imported. Standard library only. It maps the
worker's shared arena, confines itself (sandbox.py), and only then loads the candidate, whose
constructors therefore run confined too. Then, per message, it calls the entry point on the
arena and answers. SIGNATURE is the entry point's parameters, a letter each (FIELDS): a
message holds a pointer's offset in the arena, or a scalar's value, for each in turn. It holds
no clock the score is built on, no reference and no comparator: whatever the candidate does to
this process changes nothing the worker measures or judges.
"""

import ctypes
import importlib.util
import json
import mmap
import os
import socket
import struct
import sys
import types

# A parameter's letter -> how a message holds it, and the C type it is passed as: a pointer
# (its offset in the arena), a 32-bit int, a 32-bit float.
FIELDS = {"p": ("Q", ctypes.c_void_p), "i": ("i", ctypes.c_int), "f": ("f", ctypes.c_float)}
READY, MISSING, BROKEN, DONE = b"R", b"M", b"E", b"D"


def _sandbox() -> types.ModuleType:
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox.py")
    spec = importlib.util.spec_from_file_location("avo_sandbox", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    sock_fd, arena_fd, size = int(argv[0]), int(argv[1]), int(argv[2])
    library, entry, signature = argv[3], argv[4], argv[5]
    launch = struct.Struct("<" + "".join(FIELDS[letter][0] for letter in signature))
    pointers = [index for index, letter in enumerate(signature) if letter == "p"]
    parent = os.getppid()
    sandbox = _sandbox()
    conn = socket.socket(fileno=sock_fd)
    arena = mmap.mmap(arena_fd, size)
    os.close(arena_fd)
    base = ctypes.addressof(ctypes.c_char.from_buffer(arena))
    confinement = sandbox.confine(library=library, arena_bytes=size)
    sandbox.set_parent_death_signal()  # a change of credentials clears it: set it after
    if os.getppid() != parent:
        return 1  # the worker died before the signal was armed
    try:
        function = getattr(ctypes.CDLL(library, mode=os.RTLD_LOCAL), entry)
    except AttributeError:
        conn.send(MISSING)
        return 1
    except OSError as error:
        conn.send(BROKEN + str(error).encode(errors="replace")[:4000])
        return 1
    function.argtypes = [FIELDS[letter][1] for letter in signature]
    function.restype = None
    conn.send(READY + json.dumps(confinement, default=str).encode())
    while True:
        message = conn.recv(launch.size)
        if len(message) != launch.size:
            return 0
        values = list(launch.unpack(message))
        for index in pointers:
            values[index] += base
        function(*values)
        conn.send(DONE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
