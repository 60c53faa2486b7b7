"""Where a kernel runs and how its launches are timed: the Device and Kernel protocols
(device.py), the CPU (cpu.py: each C candidate in a confined runner process, on shared
memory, frozen between launches; frozen.py: what a frozen runner's threads show), the GPU
(gpu.py: NVRTC cubins launched through cuda.core), and timing.py, the sequences of launches
each device times (the wall clock, CUDA events)."""
