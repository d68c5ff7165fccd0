"""The training machinery: the loop, the steps, the state a checkpoint holds, the run folder,
and what keeps a run safe and fast (non-finite guard, interrupts, threads, performance, distributed)."""
