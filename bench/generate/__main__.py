"""``python -m bench.generate``: see :mod:`bench.generate`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.generate import DEFAULT_ANCHOR_HELP, SCALES, anchor_from_text, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--database-url", required=True,
                        help="postgres://user@host:port/name — this database is DROPPED and recreated")
    parser.add_argument("--scale", choices=list(SCALES), default="full")
    parser.add_argument("--manifest", required=True, type=Path, help="where to write the manifest (JSON)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--anchor", type=anchor_from_text, default=None, help=DEFAULT_ANCHOR_HELP)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        if not args.quiet:
            print(f"[bench.generate] {message}", file=sys.stderr, flush=True)

    manifest = generate(database_url=args.database_url, scale=args.scale, seed=args.seed, anchor=args.anchor, log=log)
    args.manifest.parent.mkdir(parents=True, exist_ok=True)
    args.manifest.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    log(f"{args.scale} data in {manifest['elapsed_seconds']}s; manifest: {args.manifest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
