"""tbwrite vs tensorboardX vs torch.utils.tensorboard vs tf.summary, side by side.

    python benchmarks/bench.py [--repeats N] [--quick]

The same as ``python -m tbwrite bench``; the implementation is tbwrite/_bench.py so that an
installed tbwrite can run it.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tbwrite._cli.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
