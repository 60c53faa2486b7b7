"""The process a CPU candidate runs in: ``python -I -S runner.py SOCKET ARENA SIZE LIBRARY ENTRY``.

Started by the worker (cpu.RunnerKernel), never imported. Standard library only. It maps the
worker's shared arena, confines itself (sandbox.py), and only then loads the candidate, whose
constructors therefore run confined too. Then, per message, it calls the entry point on the
arena and answers. It holds no clock the score is built on, no reference and no comparator:
whatever the candidate does to this process changes nothing the worker measures or judges.
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

# q, k, v, o offsets in the arena; batch, heads_q, heads_kv, seq_len, head_dim, causal; scale
LAUNCH = struct.Struct("<4Q6if")
ARGTYPES = [ctypes.c_void_p] * 4 + [ctypes.c_int] * 6 + [ctypes.c_float]
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
    library, entry = argv[3], argv[4]
    parent = os.getppid()
    sandbox = _sandbox()
    conn = socket.socket(fileno=sock_fd)
    arena = mmap.mmap(arena_fd, size)
    os.close(arena_fd)
    base = ctypes.addressof(ctypes.c_char.from_buffer(arena))
    confinement = sandbox.confine()
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
    function.argtypes = ARGTYPES
    function.restype = None
    conn.send(READY + json.dumps(confinement, default=str).encode())
    while True:
        message = conn.recv(LAUNCH.size)
        if len(message) != LAUNCH.size:
            return 0
        q, k, v, o, *ints, scale = LAUNCH.unpack(message)
        function(base + q, base + k, base + v, base + o, *ints, scale)
        conn.send(DONE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
