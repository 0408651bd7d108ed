"""Joint-branch proposals: the optimiser against the naive first-fit and a sound upper bound.

Inputs are generated (seeded, so every run sees the same data): a county of 15 townships and a
province of 1,400 townships, about 714 organisations per township on average (lognormal), of
which 3 % have one full member, 1.2 % two, 0.5 % probationary members only (the candidates) and
the rest none or enough for a branch of their own (not candidates). Organisations cluster
around one to four centres per township whose trades lean to one GB/T 4754 section; 20 % have
no coordinates.

Printed per input and method: organisations covered against the bound, groups, mean group
diameter, industry sections per group, the total cost and the run time (one core, pure Python).
`--events` is ignored; `--repeats` repeats the timing (median printed).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

from services.coverage.domain.proposals import (
    Candidate,
    ProposalPlan,
    ProposalRules,
    coverage_upper_bound,
    first_fit,
    industry_wide_branches,
    propose_joint_branches,
    quality,
)
from tests.bench.common import BenchOptions, Table, median

NAME = "joint_branch_proposals"

#: GB/T 4754 sections of the emerging fields, weighted, with a few codes each.
SECTIONS: dict[str, tuple[float, tuple[str, ...]]] = {
    "F": (0.30, ("F5127", "F5212", "F5261")),  # wholesale and retail
    "H": (0.12, ("H6110", "H6210", "H6241")),  # accommodation and catering
    "C": (0.15, ("C1391", "C3311", "C3989")),  # manufacturing
    "I": (0.08, ("I6421", "I6513", "I6531")),  # information technology
    "L": (0.10, ("L7212", "L7251", "L7281")),  # leasing and business services
    "E": (0.08, ("E4700", "E4813", "E5011")),  # construction
    "O": (0.07, ("O8010", "O8040", "O8080")),  # services to residents
    "S": (0.05, ("S9521", "S9522", "S9530")),  # social organisations
    "G": (0.05, ("G5430", "G5821", "G6020")),  # transport, express delivery
}
KM_PER_DEGREE = 111.32
P_ONE, P_TWO, P_PROBATIONARY = 0.03, 0.012, 0.005
P_NO_COORDINATES = 0.2


def _section(rng: random.Random) -> str:
    letters = list(SECTIONS)
    return rng.choices(letters, weights=[SECTIONS[s][0] for s in letters])[0]


def generate_township(
    rng: random.Random, township_code: str, organizations: int, centre: tuple[float, float]
) -> list[Candidate]:
    """The joint-branch candidates among `organizations` generated organisations."""
    lat0, lon0 = centre
    km_lon = KM_PER_DEGREE * math.cos(math.radians(lat0))
    radius = rng.uniform(2.0, 12.0)
    hotspots = [
        (rng.gauss(0, radius / 2), rng.gauss(0, radius / 2), _section(rng))
        for _ in range(rng.randint(1, 4))
    ]
    out: list[Candidate] = []
    for n in range(organizations):
        u = rng.random()
        if u < P_ONE:
            full, probationary = 1, rng.choice((0, 0, 0, 1))
        elif u < P_ONE + P_TWO:
            full, probationary = 2, rng.choice((0, 0, 0, 1))
        elif u < P_ONE + P_TWO + P_PROBATIONARY:
            full, probationary = 0, rng.randint(1, 2)
        else:
            continue
        x, y, lean = rng.choice(hotspots)
        section = lean if rng.random() < 0.6 else _section(rng)
        located = rng.random() >= P_NO_COORDINATES
        out.append(
            Candidate(
                organization_id=f"{township_code}-{n:06d}",
                township_code=township_code,
                full_members=full,
                probationary_members=probationary,
                industry_code=rng.choice(SECTIONS[section][1]),
                latitude=lat0 + (y + rng.gauss(0, 0.8)) / KM_PER_DEGREE if located else None,
                longitude=lon0 + (x + rng.gauss(0, 0.8)) / km_lon if located else None,
            )
        )
    return out


def generate_region(seed: int, townships: int, organizations: int) -> list[Candidate]:
    """Candidates of a region of `townships` townships holding about `organizations` in all."""
    rng = random.Random(seed)
    sizes = [rng.lognormvariate(0, 0.8) for _ in range(townships)]
    scale = organizations / sum(sizes)
    out: list[Candidate] = []
    for t, size in enumerate(sizes):
        code = f"14{t // 100 + 1:02d}{t % 100 // 10 + 1:02d}{t % 10 + 1:03d}"
        centre = (rng.uniform(34.6, 40.7), rng.uniform(110.3, 114.5))
        out += generate_township(rng, code, round(size * scale), centre)
    return out


Method = Callable[[list[Candidate], ProposalRules], ProposalPlan]


def _row(
    name: str, label: str, plan: ProposalPlan, bound: int, seconds: float, cpu: float
) -> list[str]:
    q = quality(plan)
    return [
        name,
        label,
        f"{q.covered:,}",
        f"{q.covered / bound:.3f}" if bound else "-",
        f"{q.groups:,}",
        "-" if q.mean_diameter_km is None else f"{q.mean_diameter_km:.2f}",
        "-" if q.mean_sections is None else f"{q.mean_sections:.2f}",
        f"{q.cost:,.0f}",
        f"{seconds:.2f}",
        f"{cpu:.2f}",
    ]


async def run(options: BenchOptions) -> list[Table]:
    rules = ProposalRules()
    table = Table(
        title=f"joint-branch proposals: optimiser vs first-fit, median of {options.repeats}",
        columns=[
            "input",
            "method",
            "covered",
            "of bound",
            "groups",
            "diameter km",
            "sections/group",
            "cost",
            "seconds",
            "CPU s",
        ],
    )
    inputs = {
        "county (15 townships)": generate_region(4, 15, 10_700),
        "province (1,400 townships)": generate_region(14, 1_400, 1_000_000),
    }
    methods: dict[str, Method] = {"first-fit": first_fit, "optimiser": propose_joint_branches}
    for name, candidates in inputs.items():
        bound = coverage_upper_bound(candidates, rules)
        table.notes.append(
            f"{name}: {len(candidates):,} candidates "
            f"({sum(1 for c in candidates if c.is_rider):,} probationary-only), bound {bound:,}"
        )
        for label, method in methods.items():
            times: list[float] = []
            cpu: list[float] = []
            plan = ProposalPlan((), ())
            for _ in range(options.repeats):
                started, started_cpu = time.perf_counter(), time.process_time()
                plan = method(candidates, rules)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            table.rows.append(_row(name, label, plan, bound, median(times), median(cpu)))
            print(f"  {name} {label}: {median(times):.2f} s", flush=True)
        # the optimiser's leftovers grouped across their county by industry section (a setting)
        started, started_cpu = time.perf_counter(), time.process_time()
        wide = industry_wide_branches(plan, ProposalRules(industry_wide=True))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - started_cpu
        table.rows.append(_row(name, "+ industry-wide", wide, bound, seconds, cpu_seconds))
    table.notes.append(
        "bound: per township min(candidates, 5 x floor(full members / 3)); cost in km-equivalents "
        "(diameter + 5 per extra industry section + 1 per extra code + 1 per member without "
        "coordinates); diameter over groups with two or more located members; + industry-wide: "
        "the optimiser's leftovers grouped across their county per GB/T 4754 section (a setting), "
        "so it may pass the per-township bound; its time is that pass alone"
    )
    return [table]
