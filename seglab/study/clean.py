"""Stage 1 (notebook 01): the cleaning rules applied to the staged log."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pandas as pd

from seglab import clean, i18n, support
from seglab.errors import ConfigError
from seglab.runfolder import open_for_writing, open_run
from seglab.study.common import StageOutput, write_output
from seglab.study.source import open_log
from seglab.study.staging import load_inputs


def clean_stage(run_dir: str | Path | None, **rules: Any) -> clean.CleaningResult:
    """Clean the staged transactions, write them and the cleaning log.

    A large log is cleaned bucket by bucket of customers into the partition
    ``transactions/`` (:func:`seglab.buckets.clean_partition`: the same as cleaning the
    whole log); the log adds up over all buckets.

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    **rules
        Overrides of :class:`seglab.clean.CleaningRules` fields.

    Returns
    -------
    seglab.clean.CleaningResult
        Kept transactions (on a large log, those of the sample) and the log.

    Raises
    ------
    ConfigError
        For a rule :class:`seglab.clean.CleaningRules` does not have.
    """
    run = open_for_writing(run_dir)
    known = {f.name for f in fields(clean.CleaningRules)}
    unknown = sorted(set(rules) - known)
    if unknown:
        raise ConfigError(f"unknown cleaning rule(s) {unknown}; known: {sorted(known)}.")
    inputs = load_inputs(run.path, lines=False)
    result = open_log(inputs).clean(clean.CleaningRules(**rules))  # writes the clean lines
    lang = inputs.meta.lang
    write_output(run, StageOutput(
        files={"cleaning_log": result.log},
        metrics={"cleaning": clean.cleaning_metrics(result)},
        sections={"what_sells": inputs.support.missing_note(
            support.SELLING_DIMENSIONS, i18n.text("what sells, where", lang), lang=lang)}))
    if lang != "en":  # cleaning_log.csv keeps the English descriptions
        result = replace(result, log=clean.display_log(result, lang))
    return result


def load_clean_transactions(run_dir: str | Path | None) -> pd.DataFrame:
    """Return the run's clean transactions (a large log's: those of the sample)."""
    return open_log(load_inputs(open_run(run_dir).path, lines=False)).lines()
