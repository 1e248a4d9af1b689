"""Next-year cost model: Spark ML pipelines compared on a temporal holdout against four baselines.

Every candidate, baselines included, is a self-contained ``PipelineModel`` whose ``prediction`` column is the
next-year cost in dollars: log-target models end with a SQLTransformer that applies ``expm1``, ML predictions are
floored at 0 (a cost is not negative), and the baselines are SQLTransformers. So the saved model is exactly the
one that was evaluated, and :func:`predict` needs no knowledge of how it was built.

Splits: ``temporal`` fits on 2008 rows (label = 2009 cost) and scores 2009 rows (label = 2010 cost), which is how
the model is used; ``random`` fits on 80% of 2008 beneficiaries (by a seeded hash of DESYNPUF_ID) and scores the
other 20%. Selection: best temporal r2, because r2 on dollars rewards getting the expensive beneficiaries right,
which is what the total-cost use needs; top10_capture is reported beside it for the care-management use.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cms_assets.lib.ml.schemas import (
    BASELINES,
    CATEGORICAL_FEATURES,
    CURRENT,
    HOLDOUT,
    NUMERIC_FEATURES,
    SCORE_BASELINES,
)

if TYPE_CHECKING:
    from pyspark.ml import PipelineModel
    from pyspark.sql import DataFrame

ID = "DESYNPUF_ID"
LABEL = "NEXT_YEAR_COST"
LOG_LABEL = "LOG_NEXT_YEAR_COST"
TRAIN_YEAR, VALID_YEAR = 2008, 2009
TEMPORAL, RANDOM = "temporal", "random"
#: Suffix of the candidates that also take the risk-adjustment inputs: RISK_INPUTS, each HCC of HCC_LIST as 0/1 and
#: the CCS category counts of CCS_LIST (the CCS_VOCABULARY categories most frequent in the fit set).
RISK = "_hcc_ccs"
ML_MODELS = ["linear", "linear_log", "gbt", "gbt_log", f"linear{RISK}", f"gbt_log{RISK}"]
RISK_INPUTS = ["RISK_SCORE", "DEMOGRAPHIC_SCORE", "DISEASE_SCORE", "INTERACTION_SCORE", "HCC_COUNT"]
#: Code lists -> (vector column, counts as 0/1, vocabulary size). V22 has 79 HCCs; CCS has 283 categories, of which
#: the 64 most frequent are kept: a GBT's cost grows with its inputs, and rare categories are rare splits.
CODE_LISTS: dict[str, tuple[str, bool, int]] = {
    "HCC_LIST": ("HCC_FLAGS", True, 79),
    "CCS_LIST": ("CCS_COUNTS", False, 64),
}
METRICS = ["r2", "rmse", "mae", "rows", "top10_capture", "top_decile_lift"]  # and DECILE_METRICS
#: GBT size: trains in about a minute on 2 cores at scale 0.01-0.05. ``gbt_size`` overrides trees and depth.
GBT_PARAMS: dict[str, Any] = {"maxIter": 25, "maxDepth": 5, "stepSize": 0.1, "subsamplingRate": 0.8}


def gbt_params(trees: int | None = None, depth: int | None = None) -> dict[str, Any]:
    """GBT_PARAMS with the number of trees (boosting rounds) and their depth replaced where given."""
    if (trees is not None and trees < 1) or (depth is not None and not 1 <= depth <= 30):
        raise ValueError(f"GBT trees must be >= 1 and depth 1-30, got trees={trees}, depth={depth}")
    return {**GBT_PARAMS, **({"maxIter": trees} if trees else {}), **({"maxDepth": depth} if depth else {})}


CHART_POINTS = 3000
#: Rows each candidate is fitted on, at most: a seeded sample of beneficiaries above it, so training time stops
#: growing with the number of samples while validation still scores every held-out row. About 2 full-size samples.
MAX_FIT_ROWS = 250_000


@dataclass
class TrainResult:
    """What training produced: the selected model and the evidence for choosing it."""

    model: PipelineModel
    selected: str
    metrics: list[dict[str, Any]]  # METRICS_SCHEMA rows without MODEL_VERSION / TRAINED_AT
    importances: list[tuple[str, float]]
    chart_png: bytes
    train_rows: int  # labelled TRAIN_YEAR rows
    valid_rows: int
    seconds: float
    fit_rows: int = 0  # the temporal fit set's rows: train_rows, or the sample drawn when above max_fit_rows
    candidates: dict[str, PipelineModel] = field(default_factory=dict, repr=False)


def prepare(features: DataFrame) -> DataFrame:
    """Model input: numeric features with nulls as 0 (the assembler rejects nulls; AGE and the CMS-HCC scores are
    null without a birth date) and code lists with nulls as empty."""
    return features.fillna(0, subset=NUMERIC_FEATURES + RISK_INPUTS).fillna("", subset=list(CODE_LISTS))


def _encoding(risk: bool = False) -> list[Any]:
    """Stages that assemble ``features``: numeric inputs and one-hot categoricals; with ``risk``, also RISK_INPUTS
    and the code lists as vectors (each list split into tokens, then counted over the fitted vocabulary)."""
    from pyspark.ml.feature import CountVectorizer, OneHotEncoder, SQLTransformer, StringIndexer, VectorAssembler

    idx = [f"{c}_idx" for c in CATEGORICAL_FEATURES]
    ohe = [f"{c}_ohe" for c in CATEGORICAL_FEATURES]
    stages: list[Any] = [
        StringIndexer(inputCols=CATEGORICAL_FEATURES, outputCols=idx, handleInvalid="keep"),
        OneHotEncoder(inputCols=idx, outputCols=ohe, handleInvalid="keep"),
    ]
    inputs = NUMERIC_FEATURES + ohe
    if risk:
        tokens = ", ".join(f"filter(split({c}, ','), x -> x <> '') AS {c}_TOKENS" for c in CODE_LISTS)
        stages.append(SQLTransformer(statement=f"SELECT *, {tokens} FROM __THIS__"))
        for column, (vector, binary, size) in CODE_LISTS.items():
            stages.append(CountVectorizer(inputCol=f"{column}_TOKENS", outputCol=vector, binary=binary, vocabSize=size))
        inputs += RISK_INPUTS + [vector for vector, _, _ in CODE_LISTS.values()]
    return [*stages, VectorAssembler(inputCols=inputs, outputCol="features")]


def _sql(expression: str) -> Any:
    from pyspark.ml.feature import SQLTransformer

    return SQLTransformer(statement=f"SELECT *, CAST({expression} AS DOUBLE) AS prediction FROM __THIS__")


def _fit(name: str, train: DataFrame, seed: int, gbt: dict[str, Any]) -> PipelineModel:
    """Fit one candidate on ``train`` (prepared rows with a label)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.regression import GBTRegressor, LinearRegression
    from pyspark.sql import functions as F

    if name == "baseline_mean":
        mean = train.agg(F.avg(LABEL)).first()[0]
        return Pipeline(stages=[_sql(repr(float(mean or 0.0)))]).fit(train)
    if name == "baseline_last_year":
        return Pipeline(stages=[_sql("TOTAL_PAYMENT")]).fit(train)
    if name in SCORE_BASELINES:
        score = SCORE_BASELINES[name]
        cost, units = train.agg(F.avg(LABEL), F.avg(score)).first()
        per_unit = float(cost / units) if cost is not None and units else 0.0
        # a beneficiary-year without a birth date has no score (null): it counts as 0 units, not as a missing row
        return Pipeline(stages=[_sql(f"COALESCE({score}, 0D) * {per_unit!r}")]).fit(train)
    log = name.removesuffix(RISK).endswith("_log")
    label = LOG_LABEL if log else LABEL
    common = {"featuresCol": "features", "labelCol": label, "predictionCol": "raw_prediction"}
    if name.startswith("gbt"):
        regressor = GBTRegressor(**common, seed=seed, **gbt)
    else:
        regressor = LinearRegression(**common, regParam=0.01, elasticNetParam=0.0, maxIter=100)
    back = "EXPM1(raw_prediction)" if log else "raw_prediction"
    stages = [*_encoding(risk=name.endswith(RISK)), regressor, _sql(f"GREATEST({back}, 0D)")]
    return Pipeline(stages=stages).fit(train)


def decile_metric(decile: int, what: str) -> str:
    """Metric name of one predicted decile (1 = highest predicted), e.g. ``decile_01_cost_share``."""
    return f"decile_{decile:02d}_{what}"


DECILE_PARTS = ["cost_share", "mean_predicted", "mean_actual"]
DECILE_METRICS = [decile_metric(d, w) for d in range(1, 11) for w in DECILE_PARTS]


def evaluate(scored: DataFrame) -> dict[str, float]:
    """r2, rmse, mae, rows (scored), top10_capture, top_decile_lift and the decile table of ``prediction`` against the
    label.

    Beneficiaries are ranked by prediction (ties broken by a hash of the id, so a constant predictor ranks at random)
    and cut into ten deciles with NTILE, decile 1 the highest predicted. Its size is ceil(10%), so top10_capture (the
    actual cost of the top ceil(10%) over the total actual cost) is decile 1's cost_share; top_decile_lift is that
    share over decile 1's share of beneficiaries (1.0 = no better than random). Per decile: cost_share (lift chart),
    mean_predicted and mean_actual (calibration). Two Spark jobs: the error sums, then the ten decile rows.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    y, p = F.col(LABEL), F.col("prediction")
    err = y - p
    agg = scored.agg(
        F.count(F.lit(1)).alias("n"),
        F.sum(err * err).alias("sse"),
        F.sum(F.abs(err)).alias("sae"),
        F.var_pop(y).alias("var"),
        F.sum(y).alias("total"),
    ).first()
    order = Window.orderBy(F.desc("prediction"), F.xxhash64(ID))
    ranked = scored.select(y.alias("y"), p.alias("p"), F.ntile(10).over(order).alias("decile"))
    deciles = {
        r["decile"]: r
        for r in ranked.groupBy("decile")
        .agg(F.count(F.lit(1)).alias("n"), F.sum("y").alias("y"), F.sum("p").alias("p"))
        .collect()
    }
    n, total = agg["n"] or 0, agg["total"]
    nan = float("nan")
    out = {
        "r2": 1.0 - agg["sse"] / (n * agg["var"]) if n and agg["var"] else nan,
        "rmse": math.sqrt(agg["sse"] / n) if n else nan,
        "mae": agg["sae"] / n if n else nan,
        "rows": float(n),
    }
    for d in range(1, 11):
        r = deciles.get(d)
        out[decile_metric(d, "cost_share")] = r["y"] / total if r and total else nan
        out[decile_metric(d, "mean_predicted")] = r["p"] / r["n"] if r else nan
        out[decile_metric(d, "mean_actual")] = r["y"] / r["n"] if r else nan
    out["top10_capture"] = out[decile_metric(1, "cost_share")]
    top = deciles.get(1)
    out["top_decile_lift"] = out["top10_capture"] / (top["n"] / n) if top and n else nan
    return out


def importances(model: PipelineModel, scored: DataFrame, train: DataFrame) -> list[tuple[str, float]]:
    """Feature importances, largest first, one-hot columns summed back to their feature, code-list slots named by
    their code (HCC85, CCS108).

    GBT: Spark's impurity importances. Linear: |coefficient| x feature standard deviation (the effect of a
    typical change), normalised to sum to 1. Baselines: the one input they use, if any.
    """
    from pyspark.ml.regression import GBTRegressionModel, LinearRegressionModel

    stages = model.stages
    regressor = next((s for s in stages if isinstance(s, GBTRegressionModel | LinearRegressionModel)), None)
    if regressor is None:
        statement = stages[0].getStatement()
        return [(c, 1.0) for c in ["TOTAL_PAYMENT", *SCORE_BASELINES.values()] if c in statement][:1]
    attrs = scored.schema["features"].metadata["ml_attr"]["attrs"]
    names = {a["idx"]: a["name"] for group in attrs.values() for a in group}
    from pyspark.ml.feature import CountVectorizerModel

    vocabularies = {s.getOutputCol(): s.vocabulary for s in stages if isinstance(s, CountVectorizerModel)}
    for i, name in names.items():
        vector, _, slot = name.rpartition("_")
        if vector in vocabularies and slot.isdigit() and int(slot) < len(vocabularies[vector]):
            names[i] = vocabularies[vector][int(slot)]
    if isinstance(regressor, GBTRegressionModel):
        weights = regressor.featureImportances.toArray().tolist()
    else:
        from pyspark.ml.stat import Summarizer
        from pyspark.sql import functions as F

        assembled = model.transform(train) if "features" not in train.columns else train
        std = assembled.select(Summarizer.std(F.col("features")).alias("s")).first()["s"].toArray()
        weights = [abs(c) * s for c, s in zip(regressor.coefficients.toArray(), std, strict=True)]
    total = sum(weights) or 1.0
    merged: dict[str, float] = {}
    for i, w in enumerate(weights):
        base = names.get(i, f"f{i}").split("_ohe")[0]
        merged[base] = merged.get(base, 0.0) + w / total
    return sorted(merged.items(), key=lambda kv: -kv[1])


def fit_sample(rows: DataFrame, n: int, max_rows: int | None, seed: int) -> DataFrame:
    """``rows`` (``n`` of them), or a seeded sample of about ``max_rows`` of them drawn by a hash of DESYNPUF_ID,
    so the same beneficiaries are drawn on every run and a beneficiary is drawn whole."""
    from pyspark.sql import functions as F

    if not max_rows or n <= max_rows:
        return rows
    keep = round(max_rows / n * 1_000_000)
    return rows.where(F.pmod(F.xxhash64(ID, F.lit(seed + 1)), F.lit(1_000_000)) < keep)


def train_cost_model(
    features: DataFrame, seed: int = 42, gbt: dict[str, Any] | None = None, max_fit_rows: int | None = MAX_FIT_ROWS
) -> TrainResult:
    """Fit the ML candidates (ML_MODELS) and the baselines on both splits; keep the best by temporal r2.

    ``gbt``: the GBT parameters (default GBT_PARAMS); see :func:`gbt_params`. ``max_fit_rows``: each split's fit set
    is sampled down to about this many rows (None or 0: all rows); validation always scores every held-out row."""
    from pyspark.sql import functions as F

    started = time.monotonic()
    year = F.col("YEAR")
    data = (
        prepare(features)
        .where(F.col(LABEL).isNotNull() & year.isin(TRAIN_YEAR, VALID_YEAR))
        .withColumn(LOG_LABEL, F.log1p(F.greatest(F.col(LABEL), F.lit(0.0))))
        .withColumn("_bucket", F.pmod(F.xxhash64(ID, F.lit(seed)), F.lit(10)))
        .cache()
    )
    try:
        train = data.where(year == TRAIN_YEAR)
        splits = {
            TEMPORAL: (train, data.where(year == VALID_YEAR)),
            RANDOM: (train.where(F.col("_bucket") < 8), train.where(F.col("_bucket") >= 8)),
        }
        counts = {s: (t.count(), v.count()) for s, (t, v) in splits.items()}
        for split, (n_train, n_valid) in counts.items():
            if n_train == 0 or n_valid == 0:
                raise ValueError(
                    f"{split} split is empty (train {n_train}, validation {n_valid} labelled rows): the features "
                    f"need {TRAIN_YEAR} and {VALID_YEAR} rows whose beneficiaries appear the next year"
                )
        metrics: list[dict[str, Any]] = []
        candidates: dict[str, PipelineModel] = {}
        fit_rows: dict[str, int] = {}
        for split, (train_rows, score_on) in splits.items():
            fit_on = fit_sample(train_rows, counts[split][0], max_fit_rows, seed)
            fit_rows[split] = fit_on.count() if fit_on is not train_rows else counts[split][0]
            for name in ML_MODELS + BASELINES:
                model = _fit(name, fit_on, seed, gbt or GBT_PARAMS)
                values = evaluate(model.transform(score_on))
                metrics += [
                    {"MODEL_NAME": name, "SPLIT": split, "METRIC": m, "VALUE": float(v)} for m, v in values.items()
                ]
                if split == TEMPORAL:
                    candidates[name] = model
        temporal_r2 = {m["MODEL_NAME"]: m["VALUE"] for m in metrics if m["SPLIT"] == TEMPORAL and m["METRIC"] == "r2"}
        selected = max(temporal_r2, key=lambda k: -math.inf if math.isnan(temporal_r2[k]) else temporal_r2[k])
        for m in metrics:
            m["SELECTED"] = m["MODEL_NAME"] == selected
        model = candidates[selected]
        valid_scored = model.transform(splits[TEMPORAL][1])
        ranked = importances(model, valid_scored, splits[TEMPORAL][0])
        from cms_assets.lib.spark.charts import cost_chart

        sample = (
            valid_scored.select(LABEL, "prediction")
            .sample(fraction=min(1.0, CHART_POINTS * 1.2 / counts[TEMPORAL][1]), seed=seed)
            .limit(CHART_POINTS)
            .collect()
        )
        chart = cost_chart(
            [(r[LABEL], r["prediction"]) for r in sample],
            ranked,
            title=f"{selected}, temporal r2 {temporal_r2[selected]:.3f}",
        )
        return TrainResult(
            model=model,
            selected=selected,
            metrics=metrics,
            importances=ranked,
            chart_png=chart,
            train_rows=counts[TEMPORAL][0],
            valid_rows=counts[TEMPORAL][1],
            fit_rows=fit_rows[TEMPORAL],
            seconds=time.monotonic() - started,
            candidates=candidates,
        )
    finally:
        data.unpersist()


def save_model(result: TrainResult, path: str, version: str) -> None:
    """Save the selected pipeline under ``path/pipeline`` and a JSON summary under ``path/info`` (Spark writers,
    so ``path`` may be local or s3a://)."""
    from pyspark.sql import SparkSession

    result.model.write().overwrite().save(f"{path}/pipeline")
    info = {
        "version": version,
        "selected": result.selected,
        "metrics": result.metrics,
        "importances": result.importances,
        "train_rows": result.train_rows,
        "valid_rows": result.valid_rows,
        "fit_rows": result.fit_rows,
    }
    spark = SparkSession.active()
    spark.createDataFrame([(json.dumps(info),)], "value string").coalesce(1).write.mode("overwrite").text(
        f"{path}/info"
    )


def load_model(path: str) -> PipelineModel:
    """The pipeline saved by :func:`save_model`."""
    from pyspark.ml import PipelineModel

    return PipelineModel.load(f"{path}/pipeline")


def predict(model: PipelineModel, features: DataFrame, version: str) -> DataFrame:
    """PREDICTION_SCHEMA rows of two scopes, percentiles and the top-10% flag within each (sample, SCOPE).

    ``current``: each beneficiary's latest YEAR row, whose next year the data cannot show. ``holdout``: the temporal
    validation year's rows with a known label (VALID_YEAR features, VALID_YEAR + 1 cost); the model was fitted on
    TRAIN_YEAR rows only, so these scores are out of sample and their cohort can be checked against actual cost.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rows = prepare(features).withColumn("_latest", F.max("YEAR").over(Window.partitionBy(ID)))
    current = rows.where(F.col("YEAR") == F.col("_latest")).withColumn("SCOPE", F.lit(CURRENT))
    holdout = rows.where((F.col("YEAR") == VALID_YEAR) & F.col(LABEL).isNotNull()).withColumn("SCOPE", F.lit(HOLDOUT))
    scored = model.transform(current.unionByName(holdout))
    group = Window.partitionBy("sample", "SCOPE")
    n = F.count(F.lit(1)).over(group)
    top_rank = F.row_number().over(group.orderBy(F.desc("prediction"), F.xxhash64(ID)))
    return scored.select(
        F.col(ID),
        F.col("YEAR").cast("smallint").alias("YEAR"),
        F.col("sample").cast("smallint").alias("sample"),
        F.col("prediction").cast("double").alias("PREDICTED_NEXT_YEAR_COST"),
        (F.percent_rank().over(group.orderBy("prediction")) * 100.0).alias("PREDICTED_PERCENTILE"),
        F.when(top_rank <= F.ceil(n * 0.1), 1).otherwise(0).cast("tinyint").alias("HIGH_COST"),
        F.lit(version).alias("MODEL_VERSION"),
        F.col("SCOPE"),
    )
