"""``python -m bench.profile_send``: cProfile of POST /messages through the handler, top by cumulative.

Not part of the table: run it when the send overhead misses its goal, to see which part dominates.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import tempfile
from pathlib import Path

from bench import environment, send_message

REQUESTS = 200


def main() -> None:
    requests_ = int(sys.argv[1]) if len(sys.argv) > 1 else REQUESTS
    with tempfile.TemporaryDirectory(prefix="bench-") as data_dir, environment.evolution_stub() as url:
        environment.configure(url, Path(data_dir))
        import app

        call = send_message.handler_call(app.app, [])
        for i in range(send_message.WARMUP):
            call(-1 - i)
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(requests_):
            call(i)
        profiler.disable()
    print(f"POST /messages through the handler, {requests_} requests (divide times by {requests_}):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
