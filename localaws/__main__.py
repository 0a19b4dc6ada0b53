"""python -m localaws [--host H] [--port P] [--verbose] [--lax]: run localaws in the foreground.

Quiet by default (only server errors are logged); --verbose logs every request."""

from __future__ import annotations

import argparse
import signal
import sys
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localaws", description="run localaws in the foreground"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument("--lax", action="store_true",
                        help="skip authentication and IAM evaluation (speed experiments only)")
    args = parser.parse_args(argv)

    from .server import bind

    try:
        server = bind(args.host, args.port, quiet=not args.verbose, strict=not args.lax)
    except OSError as error:
        print(
            f"localaws: cannot listen on {args.host}:{args.port} ({error.strerror}); "
            "is another server using that port?",
            file=sys.stderr,
        )
        return 1

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"localaws ready on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
