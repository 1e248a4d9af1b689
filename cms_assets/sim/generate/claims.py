"""Claim rows for one chunk of beneficiaries: inpatient, outpatient, carrier and PDE, as Arrow tables of strings in
the exact CMS column order, plus each beneficiary-year's payment sums for the beneficiary file.

How many claims each beneficiary has each year is fixed beforehand (:mod:`.population`); here each claim gets dates
inside its year and before the death date, diagnoses drawn from the beneficiary's chronic conditions, providers,
physicians and amounts. Amounts are whole dollars (most multiples of 10; Part A deductibles and coinsurance are the
year's statutory amounts, 1024.00 or 3204.00), so the beneficiary sums are exact.
Per-claim amount scales are derived from CMS's beneficiary-level means (DE-SynPUF Codebook) divided by claims per
beneficiary, so the annual means land near CMS's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from cms_assets.lib.synpuf import columns as c
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.generate import codes
from cms_assets.sim.generate import fields as f
from cms_assets.sim.generate.population import BENE_COUNTS, YEARS, Population, claim_targets, year_start

#: Means of the beneficiary file's annual amounts (CMS DE-SynPUF Codebook), 2008 / 2009 / 2010.
BENE_MEANS: dict[str, tuple[float, float, float]] = {
    "MEDREIMB_IP": (2193.86, 2176.54, 1244.07),
    "BENRES_IP": (247.07, 247.86, 144.83),
    "PPPYMT_IP": (103.49, 94.42, 52.24),
    "MEDREIMB_OP": (624.10, 764.58, 433.57),
    "BENRES_OP": (197.42, 234.49, 131.38),
    "PPPYMT_OP": (24.96, 28.77, 15.01),
    "MEDREIMB_CAR": (1162.93, 1338.37, 847.89),
    "BENRES_CAR": (328.93, 374.90, 239.47),
    "PPPYMT_CAR": (18.66, 21.14, 12.86),
}
#: The claim columns each beneficiary amount sums (per claim, or per line for carrier).
SUM_RULES: dict[str, tuple[str, ...]] = {
    "MEDREIMB_IP": ("CLM_PMT_AMT",),
    "BENRES_IP": ("NCH_BENE_IP_DDCTBL_AMT", "NCH_BENE_PTA_COINSRNC_LBLTY_AM", "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM"),
    "PPPYMT_IP": ("NCH_PRMRY_PYR_CLM_PD_AMT",),
    "MEDREIMB_OP": ("CLM_PMT_AMT",),
    "BENRES_OP": ("NCH_BENE_PTB_DDCTBL_AMT", "NCH_BENE_PTB_COINSRNC_AMT", "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM"),
    "PPPYMT_OP": ("NCH_PRMRY_PYR_CLM_PD_AMT",),
    "MEDREIMB_CAR": ("LINE_NCH_PMT_AMT_",),
    "BENRES_CAR": ("LINE_BENE_PTB_DDCTBL_AMT_", "LINE_COINSRNC_AMT_"),
    "PPPYMT_CAR": ("LINE_BENE_PRMRY_PYR_PD_AMT_",),
}
_SAMPLE1_ROWS = claim_targets(1.0)
#: Medicare Part A deductible per stay, 2008 / 2009 / 2010 (the statutory amounts CMS's files carry).
IP_DEDUCTIBLE = (1024, 1068, 1100)
#: Share of inpatient claims with the deductible, and with NCH_BENE_IP_DDCTBL_AMT empty (the rest: 0.00).
IP_DEDUCTIBLE_SHARE, IP_DEDUCTIBLE_EMPTY = 0.96, 0.01
#: Part A daily coinsurance for hospital days 61-90, 2008 / 2009 / 2010: 4 days of 2008 give 1024.00,
#: 12 days of 2009 give 3204.00, values the real BENRES_IP shows.
IP_DAILY_COINSURANCE = (256, 267, 275)
#: Part B deductible per year, rounded to 10 like the other Part B amounts.
PART_B_DEDUCTIBLE = (140, 140, 160)
#: Spread of inpatient payments per year, set so the 90th percentile of MEDREIMB_IP lands near CMS's 6000 / 7000
#: (2008 / 2009). CMS's 2010 p90 (3000) would need >10% of beneficiaries with a stay at 0.12 stays each, i.e. no
#: concentration on the frail at all; we keep the same concentration every year and accept p90 = 0 in 2010.
IP_PAYMENT_SIGMA = (0.78, 0.58, 0.7)
SEGMENT2_SHARE = {Kind.INPATIENT: 0.005, Kind.OUTPATIENT: 0.001}
#: Carrier lines per claim: P(1 line), P(2 lines), ... P(13 lines).
LINES_P = np.array([0.55, 0.2, 0.1, 0.05, 0.03, 0.02, 0.015, 0.01, 0.008, 0.006, 0.005, 0.003, 0.003])
LINES_P = LINES_P / LINES_P.sum()
LINES_MEAN = float((np.arange(1, 14) * LINES_P).sum())
#: Rows repeating a (DESYNPUF_ID, CLM_ID) pair: about 480 of Sample 1's 2.37 M carrier A rows (an early loader's
#: count). The repeat is an identical row; beneficiary sums count the claim once.
CARRIER_REPEAT_RATE = 480 / 2_370_667


def per_claim(column: str, kind: Kind) -> np.ndarray:
    """Mean amount per claim (per year) that gives CMS's mean per beneficiary at CMS's claims per beneficiary."""
    return np.array(BENE_MEANS[column]) * np.array(BENE_COUNTS) / np.array(_SAMPLE1_ROWS[kind])


def _lognormal(rng: np.random.Generator, mean: np.ndarray | float, sigma: np.ndarray | float, size) -> np.ndarray:
    """Log-normal draws with the given mean (not median)."""
    sigma = np.asarray(sigma)
    return np.asarray(mean) * rng.lognormal(-(sigma**2) / 2, sigma, size)


class ClaimIds:
    """CLM_ID / PDE_ID: 15-digit numbers, unique per file kind, disjoint between samples (for one seed).

    ``10**14 + ((sample-1)*4 + slot) * 2**42 + (a*counter + b) mod 2**42``: an odd multiplier makes the last term
    a bijection of the running counter, so IDs look scattered yet never collide.
    """

    SPAN = 1 << 42
    SLOTS = {Kind.INPATIENT: 0, Kind.OUTPATIENT: 1, Kind.CARRIER: 2, Kind.PDE: 3}

    def __init__(self, sample: int, seed: int) -> None:
        self.sample = sample
        self.offset = np.random.default_rng([seed, sample, 7]).integers(0, self.SPAN, size=4, dtype=np.uint64)
        self.next = dict.fromkeys(self.SLOTS, 0)

    def take(self, kind: Kind, n: int) -> np.ndarray:
        slot = self.SLOTS[kind]
        counter = np.arange(self.next[kind], self.next[kind] + n, dtype=np.uint64)
        self.next[kind] += n
        with np.errstate(over="ignore"):
            x = (counter * np.uint64(0x9E3779B97F4A7C15 & (self.SPAN - 1) | 1) + self.offset[slot]) & np.uint64(
                self.SPAN - 1
            )
        return (10**14 + ((self.sample - 1) * 4 + slot) * self.SPAN + x.astype(np.int64)).astype(np.int64)


@dataclass
class Chunk:
    """Beneficiaries [lo, hi) of a population, with the chunk's RNG and each beneficiary-year's claim-date bound."""

    pop: Population
    lo: int
    hi: int
    rng: np.random.Generator
    ends: np.ndarray  # (3, n) exclusive upper bound for claim dates
    ids: ClaimIds

    @property
    def size(self) -> int:
        return self.hi - self.lo


@dataclass
class Claims:
    """One file kind's rows for a chunk and the beneficiary amounts they add up to, each (3, chunk size)."""

    table: pa.Table
    sums: dict[str, np.ndarray]


def _rows(ch: Chunk, kind: Kind) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(beneficiary index, year index, claim day) per claim, ordered by beneficiary, then date."""
    counts = ch.pop.counts[kind][:, ch.lo : ch.hi].T.ravel()  # beneficiary-major, then year
    flat = np.repeat(np.arange(counts.size), counts)
    bene, y = ch.lo + flat // 3, flat % 3
    start = np.array([year_start(yr) for yr in YEARS])[y]
    day = start + np.floor(ch.rng.random(len(flat)) * (ch.ends[y, bene] - start)).astype(np.int64)
    order = np.lexsort((day, flat))
    return bene[order], y[order], day[order]


def _sum(ch: Chunk, bene: np.ndarray, y: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Per beneficiary-year sums as a (3, chunk size) int64 array; exact since amounts are integers < 2**53."""
    flat = y * ch.size + (bene - ch.lo)
    return np.bincount(flat, weights=amounts, minlength=3 * ch.size).reshape(3, ch.size).astype(np.int64)


def _diagnoses(rng: np.random.Generator, flags: np.ndarray, used: np.ndarray, slots: int, p_cond: float) -> np.ndarray:
    """(rows, slots) diagnosis indices: from the beneficiary's chronic conditions with probability p_cond (when it
    has any), else from the general pool; -1 beyond each row's ``used`` count."""
    pools = codes.diagnoses()
    m = len(flags)
    cnt = flags.sum(axis=1)
    r = np.floor(rng.random((m, slots)) * cnt[:, None])
    cond = (np.cumsum(flags, axis=1)[:, None, :] > r[:, :, None]).argmax(axis=-1)
    width = pools.by_condition.shape[1]
    cond_code = pools.by_condition[cond, rng.integers(0, width, (m, slots))]
    general = pools.general[rng.choice(len(pools.general), size=(m, slots), p=codes.zipf_p(len(pools.general), 0.8))]
    idx = np.where((cnt[:, None] > 0) & (rng.random((m, slots)) < p_cond), cond_code, general)
    idx[np.arange(slots)[None, :] >= used[:, None]] = -1
    for j in range(1, slots):  # no code twice on a claim: drop repeats, then close the gaps
        idx[(idx[:, :j] == idx[:, j : j + 1]).any(axis=1), j] = -1
    return np.take_along_axis(idx, np.argsort(idx < 0, axis=1, kind="stable"), axis=1)


def _slots(prefix: str, vocab: codes.Vocab, idx: np.ndarray) -> dict[str, pa.Array]:
    return {f"{prefix}{j + 1}": vocab.take(idx[:, j]) for j in range(idx.shape[1])}


def _npi(rng: np.random.Generator, m: int, share: float) -> pa.Array:
    npis, _ = codes.npis()
    idx = rng.choice(codes.N_NPIS, size=m, p=codes.zipf_p(codes.N_NPIS, 0.6))
    return npis.take(np.where(rng.random(m) < share, idx, -1))


def _provider(rng: np.random.Generator, state_index: np.ndarray) -> pa.Array:
    """A provider in the beneficiary's state (90%) or elsewhere; a few providers per state take most claims."""
    m = len(state_index)
    st = np.where(rng.random(m) < 0.9, state_index, rng.integers(0, len(codes.STATE_CODES), m))
    k = rng.choice(codes.PROVIDERS_PER_STATE, size=m, p=codes.zipf_p(codes.PROVIDERS_PER_STATE, 1.0))
    return codes.providers().take(st * codes.PROVIDERS_PER_STATE + k)


def _table(columns: list[str], values: dict[str, pa.Array], n: int) -> pa.Table:
    """A table with exactly ``columns`` in order; columns not in ``values`` are empty."""
    unknown = set(values) - set(columns)
    assert not unknown, unknown
    return pa.table([values[name] if name in values else f.empty(n) for name in columns], names=columns)


def _with_segment2(columns: list[str], table: pa.Table, head: dict[str, pa.Array], rng, share: float) -> pa.Table:
    """Append a SEGMENT 2 row (same claim, empty dates, zero payments) after a few claims, as CMS's files have."""
    m = table.num_rows
    pick = np.flatnonzero(rng.random(m) < share)
    if len(pick) == 0:
        return table
    k = len(pick)
    sel = pa.array(pick)
    seg2 = {name: head[name].take(sel) for name in ("DESYNPUF_ID", "CLM_ID", "PRVDR_NUM")}
    seg2 |= {"SEGMENT": f.constant("2", k), "CLM_PMT_AMT": f.constant("0.00", k)}
    seg2["NCH_PRMRY_PYR_CLM_PD_AMT"] = f.constant("0.00", k)
    both = pa.concat_tables([table, _table(columns, seg2, k)])
    order = np.argsort(np.concatenate([np.arange(m) * 2, pick * 2 + 1]), kind="stable")
    return both.take(pa.array(order))


def inpatient(ch: Chunk) -> Claims:
    rng, pop = ch.rng, ch.pop
    bene, y, admit = _rows(ch, Kind.INPATIENT)
    m = len(bene)
    los = 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + 3.5), m)
    thru = np.minimum(admit + los, ch.ends[y, bene] - 1)
    days = np.maximum(thru - admit, 1)  # the admission day counts, the discharge day does not; same day = 1
    stay = (1 + 0.1 * days) / (1 + 0.1 * 4.7)
    sigma = np.array(IP_PAYMENT_SIGMA)[y]
    pmt = f.round10(_lognormal(rng, per_claim("MEDREIMB_IP", Kind.INPATIENT)[y] * stay, sigma, m))
    pp = np.where(
        rng.random(m) < 0.04, f.round10(_lognormal(rng, per_claim("PPPYMT_IP", Kind.INPATIENT)[y] / 0.04, 0.9, m)), 0
    )
    u = rng.random(m)
    ded = np.where(u < IP_DEDUCTIBLE_SHARE, np.array(IP_DEDUCTIBLE)[y], 0)
    ded_present = u < 1 - IP_DEDUCTIBLE_EMPTY
    coins = np.where(rng.random(m) < 0.025, np.array(IP_DAILY_COINSURANCE)[y] * rng.integers(1, 21, m), 0)
    blood = np.where(rng.random(m) < 0.005, f.round10(rng.uniform(10, 200, m)), 0)
    per_diem = np.where(rng.random(m) < 0.45, f.round10(_lognormal(rng, 80.0, 0.8, m)), 0)
    n_dx = 1 + rng.binomial(9, 0.7, m)
    dx = _diagnoses(rng, pop.conditions[y, bene], n_dx, 10, 0.75)
    n_proc = np.where(rng.random(m) < 0.55, 1 + rng.binomial(5, 0.25, m), 0)
    proc = rng.integers(0, len(codes.procedures()), (m, 6))
    proc[np.arange(6)[None, :] >= n_proc[:, None]] = -1
    drg_vocab, drg_p = codes.drgs()
    dx_vocab = codes.diagnoses().vocab
    head = {
        "DESYNPUF_ID": pop.ids.take(pa.array(bene)),
        "CLM_ID": f.ints(ch.ids.take(Kind.INPATIENT, m)),
        "SEGMENT": f.constant("1", m),
        "PRVDR_NUM": _provider(rng, pop.state_index[bene]),
    }
    values = head | {
        "CLM_FROM_DT": f.dates(admit),
        "CLM_THRU_DT": f.dates(thru),
        "CLM_PMT_AMT": f.money(pmt),
        "NCH_PRMRY_PYR_CLM_PD_AMT": f.money(pp),
        "AT_PHYSN_NPI": _npi(rng, m, 0.98),
        "OP_PHYSN_NPI": _npi(rng, m, 0.45),
        "OT_PHYSN_NPI": _npi(rng, m, 0.12),
        "CLM_ADMSN_DT": f.dates(admit),
        "ADMTNG_ICD9_DGNS_CD": dx_vocab.take(dx[:, 0]),
        "CLM_PASS_THRU_PER_DIEM_AMT": f.money(per_diem),
        "NCH_BENE_IP_DDCTBL_AMT": f.money(ded, ded_present),
        "NCH_BENE_PTA_COINSRNC_LBLTY_AM": f.money(coins),
        "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": f.money(blood),
        "CLM_UTLZTN_DAY_CNT": f.ints(days),
        "NCH_BENE_DSCHRG_DT": f.dates(thru),
        "CLM_DRG_CD": drg_vocab.take(rng.choice(len(drg_vocab), m, p=drg_p)),
        **_slots("ICD9_DGNS_CD_", dx_vocab, dx),
        **_slots("ICD9_PRCDR_CD_", codes.procedures(), proc),
    }
    table = _with_segment2(
        c.INPATIENT_COLUMNS, _table(c.INPATIENT_COLUMNS, values, m), head, rng, SEGMENT2_SHARE[Kind.INPATIENT]
    )
    sums = {
        "MEDREIMB_IP": _sum(ch, bene, y, pmt),
        "BENRES_IP": _sum(ch, bene, y, ded + coins + blood),
        "PPPYMT_IP": _sum(ch, bene, y, pp),
    }
    return Claims(table, sums)


def outpatient(ch: Chunk) -> Claims:
    rng, pop = ch.rng, ch.pop
    bene, y, thru = _rows(ch, Kind.OUTPATIENT)
    m = len(bene)
    start = np.array([year_start(yr) for yr in YEARS])[y]
    span = np.where(rng.random(m) < 0.85, 0, rng.integers(1, 31, m))
    frm = np.maximum(thru - span, start)
    mean_pmt = per_claim("MEDREIMB_OP", Kind.OUTPATIENT)[y]
    pmt = f.round10(_lognormal(rng, mean_pmt, 1.3, m))
    negative = rng.random(m) < 0.003
    pmt[negative] = -10 * rng.integers(1, 11, int(negative.sum()))
    pp = np.where(
        rng.random(m) < 0.02, f.round10(_lognormal(rng, per_claim("PPPYMT_OP", Kind.OUTPATIENT)[y] / 0.02, 1.0, m)), 0
    )
    blood = np.where(rng.random(m) < 0.003, f.round10(rng.uniform(10, 60, m)), 0)
    ded = np.where(rng.random(m) < 0.08, f.round10(rng.uniform(10, np.array(PART_B_DEDUCTIBLE)[y])), 0)
    ded_mean = 0.08 * (10 + np.array(PART_B_DEDUCTIBLE)) / 2
    coins_ratio = ((per_claim("BENRES_OP", Kind.OUTPATIENT) - ded_mean) / per_claim("MEDREIMB_OP", Kind.OUTPATIENT))[y]
    coins = np.maximum(f.round10(pmt * coins_ratio * rng.uniform(0.5, 1.5, m)), 0)
    n_dx = 1 + rng.binomial(9, 0.2, m)
    dx = _diagnoses(rng, pop.conditions[y, bene], n_dx, 10, 0.6)
    proc = np.where(rng.random((m, 1)) < 0.03, rng.integers(0, len(codes.procedures()), (m, 1)), -1)
    proc = np.concatenate([proc, np.full((m, 5), -1)], axis=1)
    n_hcpcs = np.where(rng.random(m) < 0.55, 1 + rng.binomial(8, 0.3, m), 0)
    hcpcs = rng.choice(len(codes.op_hcpcs()), (m, 45), p=codes.zipf_p(len(codes.op_hcpcs()), 0.9))
    hcpcs[np.arange(45)[None, :] >= n_hcpcs[:, None]] = -1
    dx_vocab = codes.diagnoses().vocab
    head = {
        "DESYNPUF_ID": pop.ids.take(pa.array(bene)),
        "CLM_ID": f.ints(ch.ids.take(Kind.OUTPATIENT, m)),
        "SEGMENT": f.constant("1", m),
        "PRVDR_NUM": _provider(rng, pop.state_index[bene]),
    }
    values = head | {
        "CLM_FROM_DT": f.dates(frm),
        "CLM_THRU_DT": f.dates(thru),
        "CLM_PMT_AMT": f.money(pmt),
        "NCH_PRMRY_PYR_CLM_PD_AMT": f.money(pp),
        "AT_PHYSN_NPI": _npi(rng, m, 0.97),
        "OP_PHYSN_NPI": _npi(rng, m, 0.10),
        "OT_PHYSN_NPI": _npi(rng, m, 0.04),
        "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": f.money(blood),
        **_slots("ICD9_DGNS_CD_", dx_vocab, dx),
        **_slots("ICD9_PRCDR_CD_", codes.procedures(), proc),
        "NCH_BENE_PTB_DDCTBL_AMT": f.money(ded),
        "NCH_BENE_PTB_COINSRNC_AMT": f.money(coins),
        "ADMTNG_ICD9_DGNS_CD": dx_vocab.take(np.where(rng.random(m) < 0.15, dx[:, 0], -1)),
        **_slots("HCPCS_CD_", codes.op_hcpcs(), hcpcs),
    }
    table = _with_segment2(
        c.OUTPATIENT_COLUMNS, _table(c.OUTPATIENT_COLUMNS, values, m), head, rng, SEGMENT2_SHARE[Kind.OUTPATIENT]
    )
    sums = {
        "MEDREIMB_OP": _sum(ch, bene, y, pmt),
        "BENRES_OP": _sum(ch, bene, y, ded + coins + blood),
        "PPPYMT_OP": _sum(ch, bene, y, pp),
    }
    return Claims(table, sums)


def carrier(ch: Chunk) -> Claims:
    rng, pop = ch.rng, ch.pop
    bene, y, thru = _rows(ch, Kind.CARRIER)
    m, width = len(bene), c.CARRIER_LINES
    start = np.array([year_start(yr) for yr in YEARS])[y]
    frm = np.maximum(thru - np.where(rng.random(m) < 0.9, 0, rng.integers(1, 21, m)), start)
    n_dx = 1 + rng.binomial(7, 0.25, m)
    dx = _diagnoses(rng, pop.conditions[y, bene], n_dx, 8, 0.6)
    n_dx = (dx >= 0).sum(axis=1)  # repeats were dropped

    n_lines = 1 + rng.choice(width, m, p=LINES_P)
    used = np.arange(width)[None, :] < n_lines[:, None]
    claim_npi = rng.choice(codes.N_NPIS, m, p=codes.zipf_p(codes.N_NPIS, 0.6))
    other_npi = rng.choice(codes.N_NPIS, (m, width), p=codes.zipf_p(codes.N_NPIS, 0.6))
    npi = np.where(rng.random((m, width)) < 0.85, claim_npi[:, None], other_npi)
    hcpcs = rng.choice(len(codes.carrier_hcpcs()), (m, width), p=codes.zipf_p(len(codes.carrier_hcpcs()), 0.9))
    prc_vocab, prc_p = codes.line_processing()
    prc = rng.choice(len(prc_vocab), (m, width), p=prc_p)
    ok = used & (prc == 0)  # only allowed ("A") lines are paid
    p_ok = prc_p[0]
    line_pmt = per_claim("MEDREIMB_CAR", Kind.CARRIER) / (LINES_MEAN * p_ok)
    ded_mean = 0.04 * 75.0
    benres_line = per_claim("BENRES_CAR", Kind.CARRIER) / (LINES_MEAN * p_ok)
    coins_ratio = (benres_line - ded_mean) / line_pmt
    pp_mean = per_claim("PPPYMT_CAR", Kind.CARRIER) / (LINES_MEAN * p_ok * 0.01)
    pmt = np.where(ok, f.round10(_lognormal(rng, line_pmt[y][:, None], 1.0, (m, width))), 0)
    ded = np.where(ok & (rng.random((m, width)) < 0.04), f.round10(rng.uniform(10, 140, (m, width))), 0)
    coins = np.where(ok, f.round10(pmt * coins_ratio[y][:, None] * rng.uniform(0.5, 1.5, (m, width))), 0)
    pp = np.where(
        ok & (rng.random((m, width)) < 0.01), f.round10(_lognormal(rng, pp_mean[y][:, None], 1.0, (m, width))), 0
    )
    allowed = pmt + ded + coins + pp
    line_dx = dx[np.arange(m)[:, None], np.floor(rng.random((m, width)) * n_dx[:, None]).astype(np.int64)]

    npis, taxes = codes.npis()
    dx_vocab = codes.diagnoses().vocab
    values: dict[str, pa.Array] = {
        "DESYNPUF_ID": pop.ids.take(pa.array(bene)),
        "CLM_ID": f.ints(ch.ids.take(Kind.CARRIER, m)),
        "CLM_FROM_DT": f.dates(frm),
        "CLM_THRU_DT": f.dates(thru),
        **_slots("ICD9_DGNS_CD_", dx_vocab, dx),
    }
    blocks = {
        "PRF_PHYSN_NPI_": lambda j: npis.take(np.where(used[:, j], npi[:, j], -1)),
        "TAX_NUM_": lambda j: taxes.take(np.where(used[:, j], npi[:, j], -1)),
        "HCPCS_CD_": lambda j: codes.carrier_hcpcs().take(np.where(used[:, j], hcpcs[:, j], -1)),
        "LINE_NCH_PMT_AMT_": lambda j: f.money(pmt[:, j]),
        "LINE_BENE_PTB_DDCTBL_AMT_": lambda j: f.money(ded[:, j]),
        "LINE_BENE_PRMRY_PYR_PD_AMT_": lambda j: f.money(pp[:, j]),
        "LINE_COINSRNC_AMT_": lambda j: f.money(coins[:, j]),
        "LINE_ALOWD_CHRG_AMT_": lambda j: f.money(allowed[:, j]),
        "LINE_PRCSG_IND_CD_": lambda j: prc_vocab.take(np.where(used[:, j], prc[:, j], -1)),
        "LINE_ICD9_DGNS_CD_": lambda j: dx_vocab.take(np.where(used[:, j], line_dx[:, j], -1)),
    }
    # Unused line slots: the five amount blocks are written "0.00" (zeros above), the code blocks empty.
    assert list(blocks) == [p for p, _ in c.CARRIER_LINE_BLOCKS]
    for prefix, make in blocks.items():
        values |= {f"{prefix}{j + 1}": make(j) for j in range(width)}
    sums = {
        "MEDREIMB_CAR": _sum(ch, bene, y, pmt.sum(axis=1)),
        "BENRES_CAR": _sum(ch, bene, y, (ded + coins).sum(axis=1)),
        "PPPYMT_CAR": _sum(ch, bene, y, pp.sum(axis=1)),
    }
    return Claims(_with_repeats(rng, _table(c.CARRIER_COLUMNS, values, m)), sums)


def _with_repeats(rng: np.random.Generator, table: pa.Table) -> pa.Table:
    """Repeat a few rows right after themselves (same DESYNPUF_ID and CLM_ID), at CMS's carrier rate."""
    pieces, start = [], 0
    for i in np.flatnonzero(rng.random(table.num_rows) < CARRIER_REPEAT_RATE).tolist():
        pieces.append(table.slice(start, i + 1 - start))  # zero-copy slices: row i ends one and starts the next
        start = i
    return pa.concat_tables([*pieces, table.slice(start)]) if pieces else table


_QTY = np.array([30, 60, 90, 100, 20, 10, 120, 180, 270, 14, 28, 15, 45])
_QTY_P = codes.zipf_p(len(_QTY), 1.2)
_DAYS = np.array([30, 90, 10, 20, 60, 7, 14, 15, 5, 3])
_DAYS_P = codes.zipf_p(len(_DAYS), 1.1)
#: Share of fills with a half unit (liquids, creams): "2.500".
FRACTIONAL_QTY = 0.04


def pde(ch: Chunk) -> Claims:
    """Drug events: about 3% with 0 days supply and 3% with 0 quantity (CMS: about 6% with either)."""
    rng, pop = ch.rng, ch.pop
    bene, _, day = _rows(ch, Kind.PDE)
    m = len(bene)
    drugs = codes.drugs()
    ndc = rng.choice(len(drugs.vocab), m, p=drugs.p)
    qty = rng.choice(_QTY, m, p=_QTY_P)
    days = rng.choice(_DAYS, m, p=_DAYS_P)
    u = rng.random(m)
    days[u < 0.03] = 0
    qty[(u >= 0.03) & (u < 0.06)] = 0
    qty_milli = qty * 1000 + np.where(rng.random(m) < FRACTIONAL_QTY, 500, 0) * (qty > 0)  # "120.000", "2.500"
    cost = f.round10(drugs.base_cost[ndc] * np.maximum(days, 10) / 30.0 * rng.lognormal(0.0, 0.3, m))
    pay = np.where(rng.random(m) < 0.35, 0, f.round10(cost * rng.uniform(0.05, 0.6, m)))
    values = {
        "DESYNPUF_ID": pop.ids.take(pa.array(bene)),
        "PDE_ID": f.ints(ch.ids.take(Kind.PDE, m)),
        "SRVC_DT": f.dates(day),
        "PROD_SRVC_ID": drugs.vocab.take(ndc),
        "QTY_DSPNSD_NUM": f.quantity(qty_milli),
        "DAYS_SUPLY_NUM": f.ints(days),
        "PTNT_PAY_AMT": f.money(pay),
        "TOT_RX_CST_AMT": f.money(cost),
    }
    return Claims(_table(c.PDE_COLUMNS, values, m), {})


GENERATORS = {Kind.INPATIENT: inpatient, Kind.OUTPATIENT: outpatient, Kind.CARRIER: carrier, Kind.PDE: pde}
