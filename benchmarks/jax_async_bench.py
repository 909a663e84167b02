"""A JAX training loop that logs its loss every step, against the same loop not logging
and against the blocking baseline ``add_scalar("loss", float(loss), step)``.

    python benchmarks/jax_async_bench.py [--steps N] [--repeats N] [--device-threads N]

The same as ``python -m tbwrite bench --jax``; the implementation is
tbwrite/_cli/bench_jax.py so that an installed tbwrite can run it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tbwrite._cli.bench_jax import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
