"""promtool, for checking and unit-testing deploy/monitoring's alert rules.

Prometheus publishes promtool in no PyPI or npm package; Debian's `prometheus` package carries
it. `find()` returns, in order: `$PROMTOOL`, a `promtool` on PATH, or the one unpacked into the
virtualenv's `tools/` by an earlier call; failing those, it downloads Debian's package with
`apt-get download` (no root needed, nothing installed) and unpacks only promtool from it.
`None` (and the reason in `find.reason`) where none of that is possible.

`python -m tools.promtool ARGS` runs it: `python -m tools.promtool test rules FILE`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path(sys.prefix) / "tools" / "promtool"


class _Finder:
    reason = ""

    def __call__(self) -> Path | None:
        given = os.environ.get("PROMTOOL") or shutil.which("promtool")
        if given:
            return Path(given)
        if CACHE.exists():
            return CACHE
        return self._unpack_from_debian()

    def _unpack_from_debian(self) -> Path | None:
        if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
            self.reason = "no promtool: set PROMTOOL, or install Debian's prometheus package"
            return None
        with tempfile.TemporaryDirectory() as tmp:
            got = subprocess.run(
                ["apt-get", "download", "prometheus"],
                cwd=tmp,
                capture_output=True,
                text=True,
                timeout=300,
            )
            debs = list(Path(tmp).glob("prometheus_*.deb"))
            if got.returncode != 0 or not debs:
                self.reason = f"apt-get download prometheus failed: {got.stderr.strip()[-300:]}"
                return None
            subprocess.run(["dpkg-deb", "-x", str(debs[0]), f"{tmp}/x"], check=True, timeout=120)
            CACHE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f"{tmp}/x/usr/bin/promtool", CACHE)
        return CACHE


find = _Finder()


def main() -> int:
    promtool = find()
    if promtool is None:
        print(find.reason, file=sys.stderr)
        return 2
    return subprocess.run([str(promtool), *sys.argv[1:]], check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
