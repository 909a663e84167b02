"""Crash stress: SIGKILL logging processes N times and check every file after each.

Usage: python tests/stress/crash_stress.py [TRIALS]   (default 500)
"""

from __future__ import annotations

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))

from crashlib import Trials, check_trial  # noqa: E402


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    total_steps = 0
    torn = 0
    with tempfile.TemporaryDirectory() as tmp, Trials() as crash:
        for seed in range(trials):
            logdir = os.path.join(tmp, str(seed))
            os.makedirs(logdir)
            result = crash.run(logdir, seed)
            check_trial(result)
            total_steps += len(result.steps)
            torn += result.trailing_bytes > 0
            if (seed + 1) % 50 == 0:
                print(f"{seed + 1} trials ok, {total_steps} steps recovered", flush=True)
    print(
        f"{trials} SIGKILL trials: every file readable, every flushed step present; "
        f"{torn} ended with a torn last record (read as not yet written)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
