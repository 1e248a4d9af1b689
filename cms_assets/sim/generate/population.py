"""The beneficiaries of one sample over 2008-2010: demographics, latent health, chronic conditions, deaths, coverage
and how many claims of each kind each beneficiary has each year (the claims themselves are drawn later, in chunks).

The whole population is small (116,352 beneficiaries at scale 1.0), so it is built at once in NumPy; that lets
prevalences and row counts be calibrated exactly (empirical thresholds, multinomial allocation of each file's row
count) instead of only in expectation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cms_assets.lib.synpuf.columns import BENEFICIARY_COLUMNS, CHRONIC_CONDITIONS
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.generate import codes
from cms_assets.sim.generate import fields as f

YEARS = (2008, 2009, 2010)
#: Sample 1's beneficiary counts per year (CMS DE-SynPUF download pages).
BENE_COUNTS = (116_352, 114_538, 112_754)
#: Sample 1's rows per claim file, split over years as in the full-file table.
SAMPLE1_ROWS = {Kind.INPATIENT: 66_773, Kind.OUTPATIENT: 790_790, Kind.CARRIER: 4_741_335, Kind.PDE: 5_552_421}
FULL_ROWS_BY_YEAR = {
    Kind.INPATIENT: (547_800, 504_941, 280_081),
    Kind.OUTPATIENT: (5_673_808, 6_519_340, 3_633_839),
    Kind.CARRIER: (34_276_324, 37_304_993, 23_282_135),
    Kind.PDE: (39_927_827, 43_379_293, 27_778_849),
}
CLAIM_KINDS = (Kind.INPATIENT, Kind.OUTPATIENT, Kind.CARRIER, Kind.PDE)

SEX_FEMALE = 0.556
RACES = np.array([1, 2, 3, 5], dtype=np.int8)
RACE_P = np.array([0.828, 0.1065, 0.0421, 0.0234])
ESRD_P = (0.071, 0.095, 0.071)
#: Share "yes" per condition, 2008/2009/2010, in CHRONIC_CONDITIONS order.
CONDITION_P = np.array(
    [
        (0.192, 0.231, 0.168), (0.285, 0.342, 0.259), (0.161, 0.208, 0.139), (0.064, 0.081, 0.051),
        (0.135, 0.158, 0.090), (0.213, 0.246, 0.178), (0.380, 0.416, 0.293), (0.420, 0.478, 0.376),
        (0.174, 0.192, 0.130), (0.154, 0.174, 0.097), (0.045, 0.052, 0.026),
    ]
)  # fmt: skip
DEATH_RATE = 0.0148
UNDER65_SHARE = 0.16
#: Share of beneficiaries whose county is written "000" (unknown).
COUNTY_UNKNOWN = 0.01
#: AR(1) coefficient of the latent log-frailty from one year to the next.
RHO = 0.75
#: Claim intensity: exp(SIGMA[kind] * h) times a persistent Gamma(GAMMA_SHAPE[kind]) propensity per beneficiary
#: times yearly Gamma(YEAR_SHAPE) noise; tuned so the share of beneficiaries with any claim in 2008 is near CMS's
#: (IP 13.6%, OP 51.3%, carrier 73.4%, PDE 62.6%).
SIGMA = {Kind.INPATIENT: 1.1, Kind.OUTPATIENT: 0.8, Kind.CARRIER: 0.75, Kind.PDE: 0.6}
GAMMA_SHAPE = {Kind.INPATIENT: 0.9, Kind.OUTPATIENT: 0.65, Kind.CARRIER: 0.5, Kind.PDE: 0.9}
YEAR_SHAPE = 4.0
#: No beneficiary-year's intensity exceeds this multiple of the mean (CMS's annual amounts have bounded tails).
LAMBDA_CAP = {Kind.INPATIENT: 15.0, Kind.OUTPATIENT: 15.0, Kind.CARRIER: 8.0, Kind.PDE: 8.0}
#: Each chronic condition present multiplies the claim intensity by this.
CONDITION_LIFT = 1.12

_EPOCH_YEAR_DAYS = {y: int(np.datetime64(f"{y}-01-01", "D").astype(np.int64)) for y in (*YEARS, 2011)}


def year_start(year: int) -> int:
    """Days since 1970-01-01 of 1 January of ``year``."""
    return _EPOCH_YEAR_DAYS[year]


def claim_targets(scale: float) -> dict[Kind, tuple[int, int, int]]:
    """Rows per claim file per year at ``scale`` (1.0 = Sample 1)."""
    out = {}
    for kind, total in SAMPLE1_ROWS.items():
        by_year = np.array(FULL_ROWS_BY_YEAR[kind], dtype=float)
        out[kind] = tuple(int(round(total * scale * s)) for s in by_year / by_year.sum())
    return out


@dataclass
class Population:
    """One sample's beneficiaries, sorted by DESYNPUF_ID. Per-year arrays have a leading axis of 3 (2008-2010)."""

    ids: pa.Array  # DESYNPUF_ID strings
    birth: np.ndarray  # days since epoch, 1st of a month
    sex: np.ndarray
    race: np.ndarray
    state: np.ndarray
    state_index: np.ndarray  # index into codes.STATE_CODES
    county: np.ndarray
    death: np.ndarray  # days since epoch (1st of a month) or -1
    present: np.ndarray  # (3, n) bool: in that year's beneficiary file
    frailty: np.ndarray  # (3, n) latent log-frailty h
    esrd: np.ndarray  # (3, n) bool
    conditions: np.ndarray  # (3, n, 11) bool
    months: np.ndarray  # (3, n, 4) int8: HI, SMI, HMO, Part D coverage months
    counts: dict[Kind, np.ndarray]  # (3, n) claims per beneficiary-year

    def __len__(self) -> int:
        return len(self.birth)

    def claim_end(self, y: int) -> np.ndarray:
        """Exclusive upper bound (days) for claim dates in year index y: 1 January next year, or the death date."""
        end = np.full(len(self), year_start(YEARS[y] + 1), dtype=np.int64)
        dies = (self.death >= 0) & (self.death < end)
        end[dies] = self.death[dies]
        return end


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer: a bijection on uint64, so distinct inputs always give distinct IDs."""
    x = x.copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def beneficiary_ids(sample: int, seed: int, n: int) -> np.ndarray:
    """n distinct 64-bit IDs, disjoint between samples for one seed: a bijection of (sample, index)."""
    salt = _mix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    keys = (np.uint64(sample) << np.uint64(40)) | np.arange(n, dtype=np.uint64)
    return np.sort(_mix64(keys ^ salt))


def _hex_ids(ids: np.ndarray) -> pa.Array:
    return pa.array([f"{v:016X}" for v in ids.tolist()], type=pa.string())


def _gumbel_top(rng: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """Indices of k items drawn without replacement with probability proportional to weights."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    keys = np.log(weights) + rng.gumbel(size=len(weights))
    return np.argpartition(-keys, k - 1)[:k]


def _threshold(scores: np.ndarray, share: float) -> float:
    return float(np.quantile(scores, 1.0 - share))


def build_population(sample: int, scale: float, seed: int) -> Population:
    """Draw the beneficiaries of one sample. Deterministic for (sample, scale, seed)."""
    rng = np.random.default_rng([seed, sample, 1])
    n = max(int(round(BENE_COUNTS[0] * scale)), 10)
    targets = [n] + [int(round(n * c / BENE_COUNTS[0])) for c in BENE_COUNTS[1:]]

    ids = _hex_ids(beneficiary_ids(sample, seed, n))
    female = rng.random(n) < SEX_FEMALE
    sex = np.where(female, 2, 1).astype(np.int8)
    race = rng.choice(RACES, size=n, p=RACE_P)
    state_index = rng.choice(len(codes.STATE_CODES), size=n, p=codes.STATE_P)
    # SSA county codes "000".."999": most beneficiaries in a state's few large counties, a few with "000".
    county = np.where(rng.random(n) < COUNTY_UNKNOWN, 0, (rng.zipf(1.3, size=n) * 10 - 1) % 999 + 1).astype(np.int16)

    # Ages on 1 Jan 2008: most 65-100, some younger (disability or ESRD entitlement).
    under65 = rng.random(n) < UNDER65_SHARE
    age_months = np.where(
        under65,
        (64 - np.minimum(rng.gamma(2.0, 5.0, n), 39.0)) * 12,
        (65 + np.minimum(rng.gamma(1.5, 6.0, n), 34.9)) * 12,
    ).astype(np.int64)
    birth_month = 2008 * 12 - 1 - age_months  # months since year 0, January = 0
    birth = (birth_month - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    age = age_months / 12.0
    age_z = (age - 72.0) / 10.0

    # Latent log-frailty: age and disability raise it; AR(1) from year to year.
    h = np.empty((3, n))
    h0 = 0.35 * age_z + 0.4 * under65 + rng.normal(0.0, 0.9, n)
    h[0] = (h0 - h0.mean()) / h0.std()
    for y in (1, 2):
        h[y] = RHO * h[y - 1] + np.sqrt(1 - RHO**2) * rng.normal(size=n)

    # Chronic conditions: a persistent personal liability + a shared cardio-metabolic factor + frailty + demography.
    persistent = rng.normal(size=(n, 11))
    cardio = rng.normal(size=n)
    demog = np.zeros((n, 11))
    idx = {c: i for i, c in enumerate(CHRONIC_CONDITIONS)}
    demog[:, idx["SP_ALZHDMTA"]] = 0.7 * age_z
    demog[:, idx["SP_OSTEOPRS"]] = 0.4 * age_z + 0.9 * female
    demog[:, idx["SP_CHRNKIDN"]] = 0.3 * age_z
    demog[:, idx["SP_STRKETIA"]] = 0.3 * age_z
    demog[:, idx["SP_RA_OA"]] = 0.3 * female
    for c in ("SP_CHF", "SP_ISCHMCHT", "SP_DIABETES", "SP_CHRNKIDN", "SP_STRKETIA"):
        demog[:, idx[c]] += 0.5 * cardio
    esrd_liability = 0.8 * persistent[:, idx["SP_CHRNKIDN"]] + 0.6 * rng.normal(size=n) + 0.8 * under65

    present = np.zeros((3, n), dtype=bool)
    present[0] = True
    death = np.full(n, -1, dtype=np.int64)
    conditions = np.zeros((3, n, 11), dtype=bool)
    esrd = np.zeros((3, n), dtype=bool)
    for y in range(3):
        p = present[y]
        scores = 0.6 * h[y][:, None] + 0.8 * persistent + demog + 0.45 * rng.normal(size=(n, 11))
        for c in range(11):
            conditions[y, :, c] = p & (scores[:, c] > _threshold(scores[p, c], CONDITION_P[c, y]))
        e = esrd_liability + 0.4 * h[y] + 0.3 * rng.normal(size=n)
        esrd[y] = p & (e > _threshold(e[p], ESRD_P[y]))

        # Deaths: about 1.5% a year, more likely when frail and old.
        alive = np.flatnonzero(p)
        weights = np.exp(1.0 * h[y][alive] + 0.07 * (age[alive] + y - 75.0))
        dead = alive[_gumbel_top(rng, weights, int(round(DEATH_RATE * len(alive))))]
        month = rng.integers(0, 12, size=len(dead))
        death[dead] = (np.datetime64(f"{YEARS[y]}-01", "M") + month).astype("datetime64[D]").astype(np.int64)
        if y < 2:
            survivors = np.setdiff1d(alive, dead)
            leavers = rng.choice(survivors, size=max(len(survivors) - targets[y + 1], 0), replace=False)
            present[y + 1, np.setdiff1d(survivors, leavers)] = True

    months = _coverage(rng, n, present, death)
    pop = Population(
        ids=ids,
        birth=birth,
        sex=sex,
        race=race,
        state=codes.STATE_CODES[state_index],
        state_index=state_index,
        county=county,
        death=death,
        present=present,
        frailty=h,
        esrd=esrd,
        conditions=conditions,
        months=months,
        counts={},
    )
    pop.counts = _claim_counts(rng, pop, scale)
    return pop


def _coverage(rng: np.random.Generator, n: int, present: np.ndarray, death: np.ndarray) -> np.ndarray:
    """Coverage months per year: mostly 12 for Parts A/B, mostly 0 for HMO, 12 or 0 for Part D; cut at death."""
    months = np.zeros((3, n, 4), dtype=np.int8)
    partial = rng.integers(1, 12, size=(3, n, 4))
    # (share 12, share 0) per column; the rest is partial.
    shares = ((0.97, 0.01), (0.90, 0.05), (0.10, 0.86), (0.62, 0.30))
    has_part_d = rng.random(n)  # Part D enrolment persists across years
    for y in range(3):
        u = rng.random((n, 4))
        u[:, 3] = np.clip(has_part_d + 0.03 * rng.normal(size=n), 0, 0.999)
        for j, (full, zero) in enumerate(shares):
            months[y, :, j] = np.where(u[:, j] < full, 12, np.where(u[:, j] < full + zero, 0, partial[y, :, j]))
        dies = (death >= year_start(YEARS[y])) & (death < year_start(YEARS[y] + 1))
        death_month = (death[dies].astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12) + 1
        months[y, dies] = np.minimum(months[y, dies], death_month[:, None]).astype(np.int8)
        months[y, ~present[y]] = 0
    return months


def _claim_counts(rng: np.random.Generator, pop: Population, scale: float) -> dict[Kind, np.ndarray]:
    """Allocate each file's exact row count per year over beneficiaries (multinomial over intensities)."""
    n = len(pop)
    targets = claim_targets(scale)
    counts: dict[Kind, np.ndarray] = {}
    for kind in CLAIM_KINDS:
        out = np.zeros((3, n), dtype=np.int64)
        propensity = rng.gamma(GAMMA_SHAPE[kind], 1.0 / GAMMA_SHAPE[kind], n)  # persistent habits of care use
        for y in range(3):
            start = year_start(YEARS[y])
            exposure = np.clip((pop.claim_end(y) - start) / 365.0, 0.0, 1.0) * pop.present[y]
            lam = exposure * propensity * np.exp(SIGMA[kind] * pop.frailty[y])
            lam *= CONDITION_LIFT ** pop.conditions[y].sum(axis=1)
            lam *= rng.gamma(YEAR_SHAPE, 1.0 / YEAR_SHAPE, n)
            if kind is Kind.PDE:
                lam *= pop.months[y, :, 3] / 12.0
            if kind in (Kind.OUTPATIENT, Kind.CARRIER):
                lam *= np.where(pop.months[y, :, 1] > 0, 1.0, 0.15)
            lam = np.minimum(lam, LAMBDA_CAP[kind] * lam[pop.present[y]].mean())
            total = lam.sum()
            if total > 0:
                out[y] = rng.multinomial(targets[kind][y], lam / total)
        counts[kind] = out
    return counts


def summary_table(pop: Population, lo: int, hi: int, y: int, sums: dict[str, np.ndarray]) -> pa.Table:
    """Beneficiary Summary rows of year index y for beneficiaries [lo, hi) present that year.

    ``sums`` holds each annual amount column as a (3, hi - lo) array of the chunk's claim sums.
    """
    sel = lo + np.flatnonzero(pop.present[y, lo:hi])
    local = sel - lo
    dies = (pop.death[sel] >= year_start(YEARS[y])) & (pop.death[sel] < year_start(YEARS[y] + 1))
    months = pop.months[y, sel]
    values = {
        "DESYNPUF_ID": pop.ids.take(pa.array(sel)),
        "BENE_BIRTH_DT": f.dates(pop.birth[sel]),
        "BENE_DEATH_DT": f.dates(pop.death[sel], dies),
        "BENE_SEX_IDENT_CD": f.ints(pop.sex[sel]),
        "BENE_RACE_CD": f.ints(pop.race[sel]),
        "BENE_ESRD_IND": codes.Vocab.of(["0", "Y"]).take(pop.esrd[y, sel].astype(np.int64)),
        "SP_STATE_CODE": f.padded(pop.state[sel], 2),
        "BENE_COUNTY_CD": f.padded(pop.county[sel], 3),
        "BENE_HI_CVRAGE_TOT_MONS": f.ints(months[:, 0]),
        "BENE_SMI_CVRAGE_TOT_MONS": f.ints(months[:, 1]),
        "BENE_HMO_CVRAGE_TOT_MONS": f.ints(months[:, 2]),
        "PLAN_CVRG_MOS_NUM": f.padded(months[:, 3], 2),  # "00".."12", unlike the three counts above
    }
    for i, name in enumerate(CHRONIC_CONDITIONS):
        values[name] = f.ints(np.where(pop.conditions[y, sel, i], 1, 2))
    for name, amounts in sums.items():
        values[name] = f.money(amounts[y, local])
    return pa.table([values[name] for name in BENEFICIARY_COLUMNS], names=BENEFICIARY_COLUMNS)
