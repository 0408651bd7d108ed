"""`python -m tools.chaos [--events N] [--store sqlite|postgresql] [--short]` (`make chaos`)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from types import FrameType

from tools.chaos.report import render
from tools.chaos.suite import Options, run


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--events", type=int, help="events to drive (default 100,000; short 2,000)")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--short", action="store_true", help="the CI form: few events, a 2 s ack wait"
    )
    parser.add_argument(
        "--ack-wait",
        type=float,
        help="PB_<SERVICE>_INBOX_ACK_WAIT_SECONDS for every service (default: theirs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data and logs folder")
    args = parser.parse_args(argv)
    options = Options.short(args.store) if args.short else Options(store=args.store)
    changes: dict[str, object] = {"keep": args.keep, "progress": True}
    if args.events is not None:
        changes["events"] = args.events
    if args.ack_wait is not None:
        changes["ack_wait"] = args.ack_wait
    options = options.__class__(**{**options.__dict__, **changes})
    # `kill <pid>` (or Ctrl-C, also where a background job ignores it) stops the run cleanly:
    # the services and nats-server are stopped and the PostgreSQL databases dropped.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        result = asyncio.run(run(options))
    except KeyboardInterrupt as stop:
        print(f"[chaos] stopped by {stop}: everything it started is stopped", file=sys.stderr)
        return 130
    print(render(result), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
