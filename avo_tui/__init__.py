"""avo-tui: supervised agentic evolution of GPU kernels, in the terminal."""

__version__ = "0.1.0"
