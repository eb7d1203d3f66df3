"""Stage 7 (notebook 07): audiences out, campaign results in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from seglab import campaigns as camp
from seglab import i18n, persona
from seglab.errors import ConfigError
from seglab.runfolder import RunFolder, StudyMeta, open_for_writing, read_json
from seglab.study.common import (
    StageOutput,
    customer_table,
    display_salt,
    show_customers,
    write_output,
)
from seglab.study.profit import profit_stage
from seglab.study.source import TransactionLog, open_log
from seglab.study.staging import load_inputs


@dataclass
class CampaignStage:
    """What the campaigns stage produced, for display."""

    audiences: pd.DataFrame
    audience_summary: pd.DataFrame
    balance: pd.DataFrame
    next_tier: pd.DataFrame
    effects: pd.DataFrame
    campaigns: pd.DataFrame
    srm: pd.DataFrame
    heterogeneity: pd.DataFrame
    sentences: list[str]
    planted: pd.DataFrame
    names: dict[str, str]
    readout_names: dict[str, str] = field(default_factory=dict)
    masked: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    moves: pd.DataFrame = field(default_factory=pd.DataFrame)
    move_counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    move_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    moves_headline: str = ""
    previous_run: str | None = None
    growth_access: pd.DataFrame = field(default_factory=pd.DataFrame)
    growth_access_matrix: pd.DataFrame = field(default_factory=pd.DataFrame)
    growth_access_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    lang: str = "en"
    output: StageOutput = field(default_factory=StageOutput, repr=False)

    @property
    def next_tier_summary(self) -> pd.DataFrame:
        """Customers one order from the next membership tier, per tier step."""
        if self.next_tier.empty:
            return pd.DataFrame()
        counts = (self.next_tier.groupby(["membership", "next_tier"], sort=True).size()
                  .rename("customers").reset_index())
        for column in ("membership", "next_tier"):  # grades in the report's language
            counts[column] = counts[column].map(lambda grade: i18n.text(str(grade), self.lang))
        return counts

    @property
    def effects_table(self) -> pd.DataFrame:
        """The effects with their metric names in the report's language, for display."""
        from seglab.campaigns import display_readout

        return display_readout(self.effects, lang=self.lang)

    @property
    def srm_flagged(self) -> list[str]:
        """Campaigns whose split failed the sample-ratio test."""
        if self.campaigns.empty:
            return []
        return self.campaigns.loc[self.campaigns["srm_flag"], "campaign"].astype(str).tolist()

    @property
    def readout_sentences(self) -> str:
        """The sentences for a marketing reader, one per line ("" with no readout)."""
        return "\n".join(self.sentences)


def campaigns_stage(
    run_dir: str | Path | None,
    *,
    control_share: float = 0.1,
    campaign_window_days: int = 30,
    seed: int = 0,
    block_size: int = 20,
    campaign_control_shares: dict | None = None,
    engagement_days: int = 90,
) -> CampaignStage:
    """Audiences with a control group out to the CRM; campaign results read out per segment.

    Writes ``audiences.csv`` (one row per contactable customer: ``customer_id``,
    ``segment`` — the study's ``cluster`` —, ``persona``, ``strategy``,
    ``action_code``, ``action``, ``group``, ``spend``), and ``next_tier.csv``
    (customers one order from the next membership tier), ``segment_moves.csv``
    (customers who entered or left a segment since the previous finished run of the
    same reports folder, compared by persona name: :func:`seglab.campaigns.segment_moves`)
    and ``growth_accessibility.csv`` (every customer's growth x accessibility quadrant:
    :func:`seglab.campaigns.growth_accessibility`). When campaign exposures were
    staged (``seglab run --campaigns``), reads each campaign out per segment (the
    segment at send time when the exposures give it) and writes
    ``campaign_readout.csv``, one row per campaign x segment x metric. Records the
    ``audiences`` and ``campaigns`` metrics (campaign → its figures, with
    ``srm_p_value`` and ``srm_flag``).

    Parameters
    ----------
    run_dir : str or Path or None
        Run folder.
    control_share : float
        Share of each segment held out as control in the audiences, and the planned
        control share of campaigns the next parameter does not name.
    campaign_window_days : int
        Days after ``sent_at`` whose purchases are the campaign's outcome (and the
        same length before it, the CUPED covariate).
    seed : int
        Seed of the control draw.
    block_size : int
        Customers of similar spend per block of the control draw.
    campaign_control_shares : dict, optional
        Campaign → its planned control share (default ``control_share``; on planted
        synthetic campaigns, the planted share).
    engagement_days : int
        Days since the last order at which a customer's recent engagement, one part of
        accessibility, scores one half.

    Returns
    -------
    CampaignStage
        Tables, sentences and notes for the report.

    Raises
    ------
    ConfigError
        For a control share outside (0, 1), a window under one day, a block under 2 or
        ``engagement_days`` under 1.
    """
    _check_parameters(control_share=control_share, campaign_window_days=campaign_window_days,
                      block_size=block_size, engagement_days=engagement_days)
    run = open_for_writing(run_dir)
    table = customer_table(run.path, needs="cluster")
    if "persona" not in table or "strategy" not in table:
        profit_stage(run.path)
        table = customer_table(run.path, needs="cluster")
    inputs = load_inputs(run.path, lines=False)
    result = compute_campaigns(
        table, open_log(inputs), inputs.meta, attributes=inputs.customers,
        actions=_segment_actions(run), previous=_previous_customers(run, inputs.meta.lang),
        exposures=pd.read_parquet(run.exposures) if run.exposures.exists() else None,
        truth=pd.read_csv(run.campaign_truth) if run.campaign_truth.exists() else None,
        control_share=control_share, campaign_window_days=campaign_window_days, seed=seed,
        block_size=block_size, campaign_control_shares=campaign_control_shares or {},
        engagement_days=engagement_days, pii_salt=display_salt(run, inputs.meta))
    write_output(run, result.output)
    return result


def compute_campaigns(table: pd.DataFrame, log: TransactionLog, meta: StudyMeta, *,
                      attributes: pd.DataFrame | None, actions: dict[str, str],
                      previous: PreviousRun, exposures: pd.DataFrame | None,
                      truth: pd.DataFrame | None, control_share: float,
                      campaign_window_days: int, seed: int, block_size: int,
                      campaign_control_shares: dict[str, float],
                      engagement_days: int, pii_salt: str | None = None) -> CampaignStage:
    """Compute the audiences, next tier, segment moves, growth x reach and campaign readout.

    ``table`` is the customer table with ``cluster``, ``persona`` and ``strategy``;
    ``attributes`` the staged customer attributes (their ``contact_consent``);
    ``actions`` each segment's action (``segments.csv``); ``previous`` the previous run's
    customers (:func:`_previous_customers`); ``exposures`` and ``truth`` the staged
    campaign exposures and planted campaigns (None when not staged). The other
    parameters are :func:`campaigns_stage`'s. Nothing is written. ``pii_salt``
    pseudonymises the customers shown in the audiences, moves and growth x accessibility
    lists (:func:`seglab.study.common.display_salt`; None: shown as they are).
    """
    lang = meta.lang
    parts = {"audiences": _audiences(table, attributes, actions, lang=lang,
                                     control_share=control_share, seed=seed,
                                     block_size=block_size, pii_salt=pii_salt)}
    audience = parts["audiences"].file
    group = audience.set_index("customer_id")["group"]
    consent_given = attributes is not None and "contact_consent" in attributes
    parts["next_tier"] = _next_tier(table, lang)
    parts["segment_moves"] = _segment_moves(table, previous, group, lang=lang,
                                            pii_salt=pii_salt)
    parts["growth_accessibility"] = _growth_accessibility(
        table, group, consent_given=consent_given, engagement_days=engagement_days, lang=lang,
        pii_salt=pii_salt)
    parts["campaign_readout"] = _campaign_readout(
        table, log, meta, exposures, truth, _segment_names(audience),
        control_shares=campaign_control_shares, control_share=control_share,
        window_days=campaign_window_days)
    *audience_parts, readout = parts.values()
    notes = {name: part.note for name, part in parts.items()}
    output = StageOutput(
        files={name: part.file for name, part in parts.items()},
        metrics={"audiences": {key: value for part in audience_parts
                               for key, value in part.figures.items()},
                 "campaigns": readout.figures},
        sections=notes)
    shown = {key: value for part in parts.values() for key, value in part.shown.items()}
    return CampaignStage(**shown, masked=pii_salt is not None, notes=notes, lang=lang,
                         output=output)


def _check_parameters(*, control_share: float, campaign_window_days: int, block_size: int,
                      engagement_days: int) -> None:
    """Refuse a parameter out of range before any work."""
    if not 0 < control_share < 1:
        raise ConfigError(f"control_share={control_share} should be between 0 and 1.")
    if campaign_window_days < 1:
        raise ConfigError(f"campaign_window_days={campaign_window_days} should be >= 1.")
    if block_size < 2:
        raise ConfigError(f"block_size={block_size} should be >= 2.")
    if engagement_days < 1:
        raise ConfigError(f"engagement_days={engagement_days} should be >= 1.")


@dataclass
class _Part:
    """One output of the stage: its CSV, report note, metrics and display fields."""

    file: pd.DataFrame
    note: str
    figures: dict[str, Any]  #: for the ``audiences`` metrics (the readout: ``campaigns``)
    shown: dict[str, Any]  #: :class:`CampaignStage` fields


def _audiences(table: pd.DataFrame, attributes: pd.DataFrame | None,
               actions: dict[str, str], *, lang: str, control_share: float, seed: int,
               block_size: int, pii_salt: str | None) -> _Part:
    """Draw a control group in each segment of the contactable customers."""
    people = table[["customer_id", "cluster", "persona", "strategy", "revenue"]].rename(
        columns={"cluster": "segment", "revenue": "spend"})
    people["segment"] = people["segment"].astype(str)
    reachable, left_out = camp.contactable(people, attributes)
    note = ""
    if attributes is None or "contact_consent" not in attributes:
        note = i18n.text(
            "Every customer is in the audiences: the data gives no contact consent (add "
            "contact_consent to the --customers file).", lang)
    elif left_out:
        note = i18n.text(
            "{left_out:,} of {customers:,} customers gave no contact consent (or none is "
            "recorded) and are left out of the audiences.", lang, left_out=left_out,
            customers=len(people))
    audience = camp.assign_groups(reachable, segment_col="segment", spend_col="spend",
                                  control_share=control_share, seed=seed,
                                  block_size=block_size)
    audience["action_code"] = audience["strategy"].map(camp.action_code)
    audience["action"] = audience["segment"].map(actions).fillna("")
    audience = audience[["customer_id", "segment", "persona", "strategy", "action_code",
                         "action", "group", "spend"]]
    balance = camp.group_balance(audience, segment_col="segment", spend_col="spend")
    summary = (audience.groupby(["segment", "persona", "strategy", "action_code"],
                                sort=True, dropna=False)
               .agg(customers=("customer_id", "size"),
                    treatment=("group", lambda g: int((g == "treatment").sum())),
                    control=("group", lambda g: int((g == "control").sum())))
               .reset_index())
    figures = {"customers": len(audience), "not_contactable": left_out,
               "control": int((audience["group"] == "control").sum()),
               "control_share": control_share, "seed": seed,
               "max_std_difference": float(balance["std_difference"].abs().max())
               if len(balance) else None}
    return _Part(audience, note, figures, {
        "audiences": camp.display_audience(show_customers(audience, pii_salt), lang=lang),
        "audience_summary": camp.display_audience(summary, lang=lang), "balance": balance,
        "names": _persona_labels(_segment_names(audience), lang)})


def _segment_names(audience: pd.DataFrame) -> dict[str, str]:
    """Segment → its persona name, from the audiences."""
    return (audience.drop_duplicates("segment").set_index("segment")["persona"]
            .astype(str).to_dict())


def _next_tier(table: pd.DataFrame, lang: str) -> _Part:
    """List the customers one order from the next membership tier."""
    tier = camp.near_next_tier(table)
    note = ""
    if tier.empty and "membership" not in table:
        note = i18n.text("Skipped: the customer table has no membership grade.", lang)
    return _Part(tier, note, {"next_tier": len(tier)}, {"next_tier": tier})


def _segment_moves(table: pd.DataFrame, previous: PreviousRun, group: pd.Series, *,
                   lang: str, pii_salt: str | None) -> _Part:
    """List who entered or left a segment since the previous run, and sum the moves up."""
    moves = pd.DataFrame(columns=["customer_id", "previous_persona", "persona", "move",
                                  "strategy", "action_code", "action", "group"])
    summary = counts = pd.DataFrame()
    headline, note = "", previous.note
    if previous.customers is not None:
        moves = camp.segment_moves(previous.customers, table)
        moves["group"] = moves["customer_id"].map(group).fillna("")
        summary = camp.move_summary(moves, table)
        gone = [name for name in summary["segment"]
                if name not in set(table["persona"].astype(str))]
        if gone:
            note = i18n.text(
                "Segments of the previous run that this run does not have (renamed, merged or "
                "gone; their customers all count as moved): {segments}.", lang,
                segments=_joined([persona.persona_label(name, lang) for name in gone], lang))
        counts = camp.move_counts(moves, lang=lang)
        said = [i18n.text("{customers:,} {move}", lang, customers=row.customers, move=row.move)
                for row in counts.itertuples(index=False) if row.customers]
        headline = i18n.text(
            "Since the previous run {run}: {stayed:,} customers stayed in their segment; "
            "{moves}.", lang, run=previous.name, stayed=int(summary["stayed"].sum()),
            moves=_joined(said, lang) if said else i18n.text("nobody moved", lang))
        summary = summary.assign(segment=summary["segment"].map(
            lambda name: persona.persona_label(name, lang)))
    figures = {"previous_run": previous.name,
               "segment_moves": moves["move"].value_counts().sort_index().to_dict()
               if previous.customers is not None else None}
    return _Part(moves, note, figures, {
        "moves": camp.display_moves(show_customers(moves, pii_salt), lang=lang),
        "move_counts": counts,
        "move_summary": summary, "moves_headline": headline, "previous_run": previous.name})


def _growth_accessibility(table: pd.DataFrame, group: pd.Series, *, consent_given: bool,
                          engagement_days: int, lang: str, pii_salt: str | None) -> _Part:
    """Place every customer in a growth x accessibility quadrant."""
    reach = camp.growth_accessibility(
        table, consent=table["customer_id"].isin(group.index) if consent_given else None,
        engagement_days=engagement_days)
    access, note = reach.customers, ""
    if access.empty:
        note = i18n.text(
            "Skipped: the customer table has no revenue growth or no accessibility signal "
            "(channels, days since the last order).", lang)
        access = pd.DataFrame(columns=["customer_id", "persona", "quadrant", "action", "group"])
    else:
        access.insert(1, "persona", table["persona"].astype(str).to_numpy())
        access["group"] = access["customer_id"].map(group).fillna("")
        if reach.missing:
            note = i18n.text("Accessibility from {used} only: the data has no {missing}.",
                             lang, used=_listed(reach.used, lang),
                             missing=_listed(reach.missing, lang, either=True))
        order = {name: i for i, name in enumerate(camp.GROWTH_ACCESS_QUADRANTS)}
        access = access.sort_values(["quadrant", "customer_id"], key=lambda c: c.map(order)
                                    if c.name == "quadrant" else c, kind="mergesort",
                                    ignore_index=True)
    figures = {"growth_accessibility": access["quadrant"].value_counts().sort_index().to_dict()
               if len(access) else None, "accessibility_from": reach.used}
    return _Part(access, note, figures, {
        "growth_access": show_customers(access, pii_salt),
        "growth_access_matrix": reach.matrix(lang),
        "growth_access_summary": reach.summary(lang)})


def _campaign_readout(table: pd.DataFrame, log: TransactionLog, meta: StudyMeta,
                      exposures: pd.DataFrame | None, truth: pd.DataFrame | None,
                      names: dict[str, str], *, control_shares: dict[str, float],
                      control_share: float, window_days: int) -> _Part:
    """Read each campaign out per segment; beside the planted lifts on synthetic data."""
    lang = meta.lang
    effects = campaigns = srm = het = planted = pd.DataFrame()
    lines: list[str] = []
    if exposures is None:
        note = i18n.text(
            "Skipped: no campaign results were given; send the audiences above, then run "
            "again with --campaigns FILE (one row per customer contacted or held out).", lang)
    else:
        transactions = log.lines()
        exposures, checks, names = _readable_exposures(exposures, table, transactions, log,
                                                       meta, names, window_days=window_days)
        costs = meta.cost_table()
        planned = {**_planted_shares(truth), **control_shares}
        shares = {name: planned.get(name, control_share)
                  for name in exposures["campaign"].astype(str).unique()}
        if exposures.empty:
            note = " ".join([i18n.text("Skipped: no exposure could be read out.", lang),
                             *checks])
        else:
            outcomes = camp.campaign_outcomes(exposures, transactions, window_days=window_days,
                                              costs=costs)
            result = camp.readout(outcomes, control_share=shares)
            effects, campaigns, srm, het = (result.effects, result.campaigns, result.srm,
                                            result.heterogeneity)
            note = " ".join([*_srm_warning(campaigns, lang), *checks])
            lines = camp.sentences(result, lang=lang, names=_persona_labels(names, lang))
            if truth is not None:
                planted = _planted_campaign_check(effects, truth)
    columns = ["campaign", "segment", "metric", "customers_treatment", "customers_control",
               "effect", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
               "raw_effect", "variance_reduction", "mde", "incremental", "cost",
               "incremental_after_cost"]
    shown = (effects.reindex(columns=columns).sort_values(["campaign", "segment", "metric"],
                                                           kind="mergesort")
             if not effects.empty else pd.DataFrame(columns=columns))
    return _Part(shown, note, _campaign_figures(campaigns, het, window_days), {
        "effects": shown, "campaigns": campaigns, "srm": camp.display_readout(srm, lang=lang),
        "heterogeneity": camp.display_readout(het, lang=lang), "sentences": lines,
        "planted": planted, "readout_names": _persona_labels(names, lang)})


def _readable_exposures(exposures: pd.DataFrame, table: pd.DataFrame,
                        transactions: pd.DataFrame, log: TransactionLog, meta: StudyMeta,
                        names: dict[str, str], *, window_days: int
                        ) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """Keep the exposures that can be read out, each with its segment.

    Returns the exposures, the notes on what was left out or relabelled, and the
    segment names of the readout (none when the exposures give the segment at send
    time: those are their own labels).
    """
    lang = meta.lang
    exposures, checks = camp.check_exposures(
        exposures, known_customers=table["customer_id"], as_of=meta.as_of,
        log_end=transactions["order_date"].max(), window_days=window_days, lang=lang)
    checks = [meta.campaigns, *checks] if meta.campaigns else checks
    if log.is_sample:
        checks.append(log.inputs.sample_note(
            whole=i18n.text("The audiences", lang),
            sampled=i18n.text("the campaign outcomes", lang), lang=lang))
        exposures = exposures[exposures["customer_id"].isin(transactions["customer_id"])]
    if "segment" not in exposures or exposures["segment"].isna().all():
        exposures["segment"] = exposures["customer_id"].map(
            table.set_index("customer_id")["cluster"].astype(str))
    else:
        names = {}
    exposures["segment"] = exposures["segment"].astype(str)
    return exposures, checks, names


def _srm_warning(campaigns: pd.DataFrame, lang: str) -> list[str]:
    """Warn of the campaigns whose split failed the sample-ratio test (none: [])."""
    flagged = campaigns[campaigns["srm_flag"]]
    if flagged.empty:
        return []
    shares = ", ".join(
        i18n.text("{campaign} (control {share:.1%} of its customers, planned "
                  "{planned:.0%})", lang, campaign=row.campaign, share=row.control_share,
                  planned=row.planned_control_share)
        for row in flagged.itertuples(index=False))
    return [i18n.text(
        "SAMPLE RATIO MISMATCH in {campaigns}: p < 0.001, so customers were lost or "
        "moved between groups; do not trust these effects until the cause is found "
        "(if the plan was another split, give it in campaign_control_shares).", lang,
        campaigns=shares)]


def _campaign_figures(campaigns: pd.DataFrame, het: pd.DataFrame,
                      window_days: int) -> dict[str, dict[str, Any]]:
    """Campaign → its figures, for the ``campaigns`` metrics."""
    return {
        str(row.campaign): {
            "customers_treatment": row.customers_treatment,
            "customers_control": row.customers_control,
            "planned_control_share": row.planned_control_share,
            "srm_p_value": row.srm_p_value, "srm_flag": bool(row.srm_flag),
            "incremental_revenue": row.incremental_revenue,
            "incremental_profit": row.incremental_profit, "cost": row.cost,
            "profit_after_cost": row.profit_after_cost,
            "window_days": window_days,
            "segments_differ_revenue": bool(het.loc[(het["campaign"] == row.campaign)
                                                    & (het["metric"] == "revenue"),
                                                    "segments_differ"].any()),
        } for row in campaigns.itertuples(index=False)}


def _planted_shares(truth: pd.DataFrame | None) -> dict[str, float]:
    """Campaign → its planted control share (none without planted campaigns)."""
    if truth is None:
        return {}
    return truth.groupby("campaign")["control_share"].first().to_dict()


def _segment_actions(run: RunFolder) -> dict[str, str]:
    """Segment → its action, from ``segments.csv`` (none when it has no actions)."""
    if not run.segments.exists():
        return {}
    segments = pd.read_csv(run.segments, dtype={"segment": "string"})
    if not {"segment", "action"} <= set(segments.columns):
        return {}
    return dict(zip(segments["segment"].astype(str), segments["action"].fillna(""),
                    strict=True))


def _persona_labels(names: dict[str, str], lang: str) -> dict[str, str]:
    """Segment -> persona name, the names in the report's language (for display)."""
    return {segment: persona.persona_label(name, lang) for segment, name in names.items()}


def _joined(items: list[str], lang: str) -> str:
    """Join a short list as ``lang`` writes one ("a, b, c"; "a、b、c")."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = i18n.text("{before}, {after}", lang, before=text, after=item)
    return text


def _listed(names: list[str], lang: str, *, either: bool = False) -> str:
    """Name the items of a short list of English names in ``lang`` ("a, b and c").

    ``either`` joins the last two with "or" ("no a, b or c").
    """
    items = [i18n.text(name, lang) for name in names]
    if len(items) < 2:
        return _joined(items, lang)
    last = (i18n.text("{before} or {after}", lang, before=items[-2], after=items[-1])
            if either else
            i18n.text("{before} and {after}", lang, before=items[-2], after=items[-1]))
    return _joined([*items[:-2], last], lang)


class PreviousRun(NamedTuple):
    """The previous run of the reports folder, to list who moved since."""

    customers: pd.DataFrame | None  #: ``customer_id``, ``persona``, ``revenue``; None: none
    name: str | None  #: its run id and analysis date
    note: str  #: why there is nothing to compare with ("" when there is)


def _previous_customers(run: RunFolder, lang: str = "en") -> PreviousRun:
    """Find the previous run; return its customers (id, persona, revenue), name and a note.

    The previous run is the newest succeeded run of the same reports folder (the run
    folder's parent); this run is being built while its folder is ``.<run-id>.partial``
    (finished runs are read-only, and a scratch folder or workspace has no reports
    folder). A run that masked its ids (``--mask-pii``) left its unmasked customer
    table in ``<out>/private/<run-id>/``, read from there so ids match. The note says
    why there is nothing to compare with ("" when there is).
    """
    from seglab import history

    folder = run.path
    if not (folder.name.startswith(".") and folder.name.endswith(".partial")):
        return PreviousRun(None, None, i18n.text(
            "Skipped: this study is not a run of a reports folder (a scratch folder or a "
            "workspace), so there is no previous run to compare with.", lang))
    out = folder.parent
    runs = history.list_runs(out)
    done = runs[(runs["status"] == "succeeded")
                & (runs["run_id"] != folder.name[1:].removesuffix(".partial"))]
    if done.empty:
        return PreviousRun(None, None, i18n.text(
            "Skipped: no earlier run in {folder}/ succeeded; the next run will list who "
            "entered or left a segment since this one.", lang, folder=out.name))
    run_id = str(done["run_id"].iloc[-1])
    before = RunFolder(out / run_id)
    manifest = read_json(before.manifest)
    unmasked = manifest.get("masked", {}).get("unmasked_files")
    places = [before.path, *([Path(unmasked)] if unmasked else []), out / "private" / run_id]
    path = next((RunFolder(p).customers for p in places if RunFolder(p).customers.is_file()),
                None)
    if path is None:
        return PreviousRun(None, run_id, i18n.text(
            "Skipped: the previous run {run} masked its customer ids and its unmasked customer "
            "table is no longer in {folder}/private/{run}/, so its customers cannot be matched "
            "with this run's.", lang, run=run_id, folder=out.name))
    import pyarrow.parquet as pq

    columns = pq.read_schema(path).names
    if "persona" not in columns:
        return PreviousRun(None, run_id, i18n.text(
            "Skipped: the previous run {run} has no persona names to compare segments by.",
            lang, run=run_id))
    previous = pd.read_parquet(path, columns=[c for c in ("customer_id", "persona", "revenue")
                                              if c in columns])
    previous["customer_id"] = previous["customer_id"].astype("string")
    as_of = manifest.get("parameters", {}).get("as_of")
    name = i18n.text("{run} (analysis date {as_of})", lang, run=run_id, as_of=as_of) \
        if as_of else run_id
    return PreviousRun(previous, name, "")


def _planted_campaign_check(effects: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Set the readout's orders and revenue effects beside the planted lifts."""
    planted = truth.melt(id_vars=["campaign", "segment"], value_vars=["orders", "revenue"],
                         var_name="metric", value_name="planted")
    out = planted.merge(effects[["campaign", "segment", "metric", "effect", "ci_low",
                                 "ci_high"]], on=["campaign", "segment", "metric"],
                        how="inner")
    out["inside_ci"] = (out["ci_low"] <= out["planted"]) & (out["planted"] <= out["ci_high"])
    return out.sort_values(["campaign", "metric", "segment"], kind="mergesort").reset_index(
        drop=True)


