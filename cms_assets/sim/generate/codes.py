"""Code vocabularies the generator draws from: ICD-9 diagnoses per chronic condition, procedures, DRGs, HCPCS, NDCs,
provider numbers, NPIs and SSA state weights.

Codes are plain strings in CMS's spelling (ICD-9 without the dot). Columns are generated as integer indices into a
:class:`Vocab` and turned into Arrow strings with one ``take``, which is far cheaper than building Python strings per
row. Pools that real files share across samples (NPIs, NDCs, providers) come from a fixed RNG, independent of the
seed, so they are the same in every sample, as in CMS's files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cms_assets.lib.synpuf.columns import CHRONIC_CONDITIONS


@dataclass(frozen=True)
class Vocab:
    """A list of code strings; ``take(idx)`` maps indices to an Arrow string array, -1 to null (empty field)."""

    codes: pa.Array

    @classmethod
    def of(cls, codes: list[str]) -> Vocab:
        return cls(pa.array(codes, type=pa.string()))

    def __len__(self) -> int:
        return len(self.codes)

    def take(self, idx: np.ndarray) -> pa.Array:
        idx = np.asarray(idx)
        missing = idx < 0
        return self.codes.take(pa.array(np.where(missing, 0, idx).astype(np.int32), mask=missing))


# Chronic and acute ICD-9 codes per condition, in CHRONIC_CONDITIONS order (without the dot, as CMS writes them).
_CONDITION_CODES: dict[str, list[str]] = {
    "SP_ALZHDMTA": ["3310", "2900", "29010", "2941", "29420", "3312", "2908", "78093"],
    "SP_CHF": ["4280", "42832", "42833", "4289", "4254", "42823", "40291", "4281"],
    "SP_CHRNKIDN": ["5856", "5859", "5853", "5854", "5849", "40391", "5845", "V4511"],
    "SP_CNCR": ["1749", "1629", "1539", "185", "1890", "1541", "V1046", "V103"],
    "SP_COPD": ["496", "49121", "4912", "49122", "4928", "5181", "51881", "486"],
    "SP_DEPRESSN": ["311", "2962", "29620", "29630", "3004", "29690", "30000", "2989"],
    "SP_DIABETES": ["25000", "25002", "25040", "25060", "25001", "25050", "3572", "V5867"],
    "SP_ISCHMCHT": ["41401", "4139", "41071", "4111", "412", "41400", "4148", "V4581"],
    "SP_OSTEOPRS": ["73300", "73301", "73313", "8208", "73309", "8054", "V8281", "73314"],
    "SP_RA_OA": ["7140", "71536", "71596", "7159", "71516", "71590", "V4365", "71535"],
    "SP_STRKETIA": ["43491", "43411", "436", "4359", "43310", "43401", "4380", "V1254"],
}
assert list(_CONDITION_CODES) == CHRONIC_CONDITIONS

#: Common codes not tied to one condition: hypertension, lipids, symptoms, screening and status codes.
_GENERAL_CODES = [
    "4019", "2724", "2720", "V5869", "78650", "7862", "27800", "53081", "7804", "78079", "V7231", "5990",
    "4011", "2449", "7295", "7242", "V5861", "42731", "2859", "27651", "V1582", "78900", "4240", "36616",
    "E8889", "V4582", "7881", "71945", "2809", "V700", "4660", "7140", "25000", "4280", "41401", "496",
    "0389", "0088", "0414", "0799", "0785",  # infections: ICD-9 001-139 keep their leading zero as text
]  # fmt: skip

_PROCEDURES = [
    "3893", "9904", "8154", "4516", "3995", "0066", "8151", "3722", "4513", "9671", "3897", "8872", "5491",
    "4523", "3324", "9390", "8622", "3491", "0040", "3961", "8604", "9394", "4443", "5123", "0331", "8108",
]  # fmt: skip

_DRG_COMMON = [
    "291", "292", "470", "871", "872", "392", "190", "194", "195", "690", "683", "377", "378", "064",
    "065", "066", "189", "193", "312", "313", "682", "641", "603", "247", "246", "308", "309", "310",
    "460", "481", "535", "552", "101", "202", "203", "280", "281", "286", "287", "177", "178", "885",
    "057", "039", "069", "074", "091",
]  # fmt: skip

_OP_HCPCS = [
    "85025", "80053", "36415", "80061", "93005", "71020", "84443", "82947", "83036", "99213", "99214", "G0008",
    "J1885", "96372", "97110", "97140", "82565", "85610", "74176", "77057", "G0202", "99283", "99284", "76700",
    "93306", "86803", "81001", "84153", "80048", "82607", "J2001", "90732", "G0009", "97530", "71010", "93010",
]  # fmt: skip

_CARRIER_HCPCS = [
    "99213", "99214", "99212", "99232", "99233", "99231", "99223", "99222", "99215", "99204", "99203", "G0008",
    "90658", "93000", "71020", "36415", "85025", "80053", "97110", "97140", "97530", "92014", "92012", "J3420",
    "J0897", "G0439", "11721", "17000", "88305", "78452", "93306", "A0427", "A0425", "E1390", "99309", "99308",
    "99307", "J1100", "20610", "66984", "92083", "A4253", "80061", "83036", "82306", "99238", "99291", "76770",
]  # fmt: skip

#: Line processing indicators with their shares: A (allowed) dominates.
LINE_PRCSG: list[tuple[str, float]] = [
    ("A", 0.93), ("R", 0.02), ("O", 0.015), ("S", 0.01), ("N", 0.01), ("Q", 0.005), ("I", 0.005), ("C", 0.005),
]  # fmt: skip

# SSA state codes 1..54 without 40 (Puerto Rico) and 48 (Virgin Islands), weighted by approximate 2008 Medicare
# enrollment in thousands, so California, Florida, New York, Texas and Pennsylvania dominate as in the real files.
_STATE_WEIGHTS: dict[int, float] = {
    1: 800, 2: 60, 3: 900, 4: 500, 5: 4400, 6: 600, 7: 550, 8: 140, 9: 75, 10: 3100, 11: 1150, 12: 200,
    13: 220, 14: 1800, 15: 950, 16: 500, 17: 420, 18: 720, 19: 650, 20: 260, 21: 750, 22: 1000, 23: 1600,
    24: 750, 25: 480, 26: 950, 27: 160, 28: 270, 29: 330, 30: 210, 31: 1300, 32: 300, 33: 2900, 34: 1400,
    35: 105, 36: 1800, 37: 580, 38: 600, 39: 2200, 41: 180, 42: 730, 43: 130, 44: 1000, 45: 2900, 46: 260,
    47: 100, 49: 1150, 50: 930, 51: 370, 52: 880, 53: 75, 54: 50,
}  # fmt: skip
STATE_CODES = np.array(list(_STATE_WEIGHTS), dtype=np.int16)
STATE_P = np.array(list(_STATE_WEIGHTS.values())) / sum(_STATE_WEIGHTS.values())

N_NPIS = 60_000
PROVIDERS_PER_STATE = 40
N_NDCS = 3_000
_LABELERS = [
    "00093", "00378", "00591", "00781", "68180", "65862", "00172", "16714", "00904", "51079", "00002", "00006",
    "00071", "00310", "00074", "00085", "00186", "00173", "00456", "13668", "57664", "68382", "33342", "55111",
    "00054", "00603", "62175", "00228", "43547", "31722", "00058",
]  # fmt: skip


@dataclass(frozen=True)
class DiagnosisPools:
    """All diagnosis codes in one vocabulary; per-condition and general pools as index arrays into it."""

    vocab: Vocab
    by_condition: np.ndarray  # (11, width) indices, each row one condition's codes, padded by repeating
    general: np.ndarray


@cache
def diagnoses() -> DiagnosisPools:
    codes: list[str] = []
    for pool in _CONDITION_CODES.values():
        codes += [c for c in pool if c not in codes]
    codes += [c for c in _GENERAL_CODES if c not in codes]
    pos = {c: i for i, c in enumerate(codes)}
    width = max(len(p) for p in _CONDITION_CODES.values())
    by_condition = np.array([[pos[p[j % len(p)]] for j in range(width)] for p in _CONDITION_CODES.values()])
    return DiagnosisPools(Vocab.of(codes), by_condition, np.array([pos[c] for c in _GENERAL_CODES]))


@cache
def procedures() -> Vocab:
    return Vocab.of(_PROCEDURES)


@cache
def drgs() -> tuple[Vocab, np.ndarray]:
    """DRG codes with shares: "000" 3% and "OTH" 8%, the rest Zipf-like over the common MS-DRGs."""
    codes = _DRG_COMMON + ["000", "OTH"]
    w = 1.0 / np.arange(1, len(_DRG_COMMON) + 1) ** 0.8
    p = np.concatenate([w / w.sum() * 0.89, [0.03, 0.08]])
    return Vocab.of(codes), p


@cache
def op_hcpcs() -> Vocab:
    return Vocab.of(_OP_HCPCS)


@cache
def carrier_hcpcs() -> Vocab:
    return Vocab.of(_CARRIER_HCPCS)


@cache
def line_processing() -> tuple[Vocab, np.ndarray]:
    p = np.array([s for _, s in LINE_PRCSG])
    return Vocab.of([c for c, _ in LINE_PRCSG]), p / p.sum()


def zipf_p(n: int, a: float = 1.0) -> np.ndarray:
    """Popularity weights: a few codes/providers/drugs are common, most are rare."""
    w = 1.0 / np.arange(1, n + 1) ** a
    return w / w.sum()


@cache
def npis() -> tuple[Vocab, Vocab]:
    """Physician NPIs (10-digit strings; the synthetic NPIs of CMS's files start with any digit, "0611998537") and
    their group's tax number (9 digits; three NPIs per group)."""
    rng = np.random.default_rng(20130201)
    npi = rng.choice(10_000_000_000, size=N_NPIS, replace=False).astype(np.int64)
    tax = rng.integers(10_000_000, 999_999_999, size=N_NPIS // 3 + 1)
    return Vocab(pc.utf8_lpad(pa.array(npi).cast(pa.string()), 10, "0")), Vocab.of(
        [f"{t:09d}" for t in tax[np.arange(N_NPIS) // 3]]
    )


@cache
def providers() -> Vocab:
    """Institutional provider numbers like 0506GC: 2-digit SSA state, 2 digits, 2 letters; PROVIDERS_PER_STATE per
    state, laid out so that provider index = state_index * PROVIDERS_PER_STATE + k."""
    rng = np.random.default_rng(20130202)
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    out = []
    for st in STATE_CODES:
        nums = rng.choice(100, size=PROVIDERS_PER_STATE, replace=False)
        pairs = rng.choice(letters, size=(PROVIDERS_PER_STATE, 2))
        out += [f"{st:02d}{n:02d}{a}{b}" for n, (a, b) in zip(nums, pairs, strict=True)]
    return Vocab.of(out)


@dataclass(frozen=True)
class Drugs:
    """11-digit NDCs (5-4-2 labeler/product/package, no dashes) with a base cost per fill in dollars."""

    vocab: Vocab
    base_cost: np.ndarray
    p: np.ndarray


@cache
def drugs() -> Drugs:
    rng = np.random.default_rng(20130203)
    labeler = rng.choice(_LABELERS, size=N_NDCS)
    product = rng.integers(0, 10_000, size=N_NDCS)
    package = rng.choice([1, 5, 10, 30, 60, 90, 2, 3, 6], size=N_NDCS)
    ndcs = [f"{lab}{prod:04d}{pk:02d}" for lab, prod, pk in zip(labeler, product, package, strict=True)]
    base = rng.lognormal(np.log(25.0), 1.1, size=N_NDCS)
    return Drugs(Vocab.of(ndcs), base, zipf_p(N_NDCS, 0.9))
