"""A tensor's dtype, by the name a target gives it, as torch's: the one place those names meet
torch (the rest of targets/ reads a target without torch)."""

from __future__ import annotations

import torch

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
          "int8": torch.int8, "int32": torch.int32, "int64": torch.int64, "uint8": torch.uint8,
          "bool": torch.bool}
