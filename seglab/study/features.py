"""Stage 2 (notebook 02): customer features, rule segments and the clustering transform."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from seglab import (
    feature_transform,
    features,
    i18n,
    segments,
)
from seglab.runfolder import (
    StudyMeta,
    open_for_writing,
)
from seglab.study.common import StageOutput, write_output
from seglab.study.source import TransactionLog, open_log
from seglab.study.staging import load_inputs


@dataclass
class FeatureStage:
    """What the feature stage produced, for display."""

    customers: pd.DataFrame
    transform: feature_transform.FeatureTransform
    rules: segments.SegmentRules
    options: features.FeatureOptions
    notes: dict[str, str] = field(default_factory=dict)
    output: StageOutput = field(default_factory=StageOutput, repr=False)


def feature_stage(
    run_dir: str | Path | None,
    *,
    window_days: int = features.FeatureOptions.window_days,
    category_top_n: int = features.FeatureOptions.category_top_n,
    channel_top_n: int = features.FeatureOptions.channel_top_n,
    feature_set: str = feature_transform.DEFAULT_FEATURE_SET,
    segment_rules: dict[str, Any] | None = None,
    **rules: Any,
) -> FeatureStage:
    """Build customer features and rule segments; write ``customers.csv`` and the transform.

    The customer table is aggregated in DuckDB straight from the run's clean
    ``transactions.parquet`` (:func:`seglab.engine.customer_aggregates`): the same
    code path as ``seglab features`` for nightly scoring, so both give the same table;
    memory stays flat however long the log; and the tests hold it equal to the pandas
    reference (:func:`seglab.features.customer_features`) to 1e-9. On small data both
    take well under a second. The RFM columns count in the study's time unit and the
    table is aggregated by the study's engine (both in ``study.json``).

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    window_days, category_top_n, channel_top_n
        See :class:`seglab.features.FeatureOptions`.
    feature_set : str
        A key of :data:`seglab.feature_transform.FEATURE_SETS`: the features of the
        transform for clustering (:class:`seglab.feature_transform.FeatureTransform`),
        fitted here once and saved as ``feature_transform.joblib`` for clustering,
        dynamics and new data.
    segment_rules : dict, optional
        Overrides of :class:`seglab.segments.SegmentRules` fields.
    **rules
        More overrides, by keyword.

    Returns
    -------
    FeatureStage
        The customer table, the fitted transform, the rules and options used.
    """
    run = open_for_writing(run_dir)
    inputs = load_inputs(run.path, lines=False)
    result = compute_features(
        open_log(inputs), inputs.meta, window_days=window_days, category_top_n=category_top_n,
        channel_top_n=channel_top_n, feature_set=feature_set,
        rules=segments.segment_rules(**{**(segment_rules or {}), **rules}))
    write_output(run, result.output)
    return result


def compute_features(log: TransactionLog, meta: StudyMeta, *, window_days: int,
                     category_top_n: int, channel_top_n: int, feature_set: str,
                     rules: segments.SegmentRules) -> FeatureStage:
    """Compute the customer table, its rule segments and the clustering transform.

    The parameters are :func:`feature_stage`'s; ``meta`` gives the time unit, engine,
    language and what the log supports. Nothing is written.
    """
    time_unit, chosen, lang, found = meta.time_unit, meta.engine, meta.lang, meta.support
    notes = {"orders": found.order_note(lang=lang), "window": ""}
    fitted = min(window_days, max(1, found.span_days // 2))
    if fitted != window_days:
        notes["window"] = i18n.text(
            "Value x growth compares the last {fitted} days with the {fitted} before, not "
            "{asked} with {asked}: the log covers {span} days.", lang, fitted=fitted,
            asked=window_days, span=found.span_days)
        window_days = fitted
    options = features.FeatureOptions(time_unit, window_days, category_top_n, channel_top_n)
    table = log.customer_aggregates(engine=chosen, **dataclasses.asdict(options))
    table = segments.rule_segments(table, rules=rules)
    transform = feature_transform.FeatureTransform(feature_set).fit(table)
    metrics = {
        "customers": len(table),
        "time_unit": time_unit,
        "engine": chosen,
        "revenue": float(table["revenue"].sum()),
        "repeat_customer_share": float((table["frequency"] > 0).mean()),
        "feature_set": feature_set,
        "transform_columns": len(transform.columns_),
        "rfm_segments": table["rfm_segment"].value_counts().to_dict(),
        "segments": {
            column: table[column].value_counts().to_dict()
            for column in segments.SEGMENT_COLUMNS if column != "rfm_segment"
        },
    }
    output = StageOutput(customers=table, files={"feature_transform": transform},
                         metrics={"features": metrics}, sections=notes)
    return FeatureStage(table, transform, rules, options, notes, output)
