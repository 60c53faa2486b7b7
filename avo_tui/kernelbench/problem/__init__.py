"""The problem, read: what every other room of kernelbench/ is built on.

A KernelBench problem file loaded and built at any sizes on the meta device, refused in one
line where it cannot be a target (problem_module.py; draws.py: where its forward draws random
numbers; meta_memo.py: the meta device's answers, remembered); how every tensor size follows
its size globals (shapes.py, as a SizeExpr: size_expr.py); its forward traced by torch.fx into
the operations a seed is written for (graph.py; elementwise.py: their C expressions), and
recorded at the aten level (aten_trace.py) with every size inside it in terms of its
dimensions (forward_sizes.py); and its work, FLOPs and bytes (work.py; flop_count.py: torch's
count, each call's remembered; flop_fit.py: that count as a polynomial of the sizes;
flop_trace.py: stated call by call where none fits)."""
