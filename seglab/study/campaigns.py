"""Stage 7 (notebook 07): audiences out, campaign results in."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from seglab import (
    i18n,
    persona,
)
from seglab.errors import ConfigError
from seglab.runfolder import (
    RunFolder,
    open_for_writing,
    read_json,
)
from seglab.study.common import customer_table, masked_for_display, record_metrics, record_sections
from seglab.study.profit import profit_stage
from seglab.study.source import open_log
from seglab.study.staging import load_inputs, report_language


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
    not_contactable: int = 0
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
    from seglab import campaigns as camp

    if not 0 < control_share < 1:
        raise ConfigError(f"control_share={control_share} should be between 0 and 1.")
    if campaign_window_days < 1:
        raise ConfigError(f"campaign_window_days={campaign_window_days} should be >= 1.")
    if block_size < 2:
        raise ConfigError(f"block_size={block_size} should be >= 2.")
    if engagement_days < 1:
        raise ConfigError(f"engagement_days={engagement_days} should be >= 1.")
    run = open_for_writing(run_dir)
    folder = run.path
    table = customer_table(folder, needs="cluster")
    if "persona" not in table or "strategy" not in table:
        profit_stage(folder)
        table = customer_table(folder, needs="cluster")
    inputs = load_inputs(folder, lines=False)
    lang = report_language(folder)
    notes = {"audiences": "", "next_tier": "", "segment_moves": "",
             "growth_accessibility": "", "campaign_readout": ""}

    # Audiences out.
    spend_col = "revenue"
    people = table[["customer_id", "cluster", "persona", "strategy", spend_col]].rename(
        columns={"cluster": "segment", spend_col: "spend"})
    people["segment"] = people["segment"].astype(str)
    reachable, left_out = camp.contactable(people, inputs.customers)
    if inputs.customers is None or "contact_consent" not in inputs.customers:
        notes["audiences"] = i18n.text(
            "Every customer is in the audiences: the data gives no contact consent (add "
            "contact_consent to the --customers file).", lang)
    elif left_out:
        notes["audiences"] = i18n.text(
            "{left_out:,} of {customers:,} customers gave no contact consent (or none is "
            "recorded) and are left out of the audiences.", lang, left_out=left_out,
            customers=len(people))
    actions = {}
    if run.segments.exists():
        seg_file = pd.read_csv(run.segments, dtype={"segment": "string"})
        if {"segment", "action"} <= set(seg_file.columns):
            actions = dict(zip(seg_file["segment"].astype(str), seg_file["action"].fillna(""),
                               strict=True))
    audience = camp.assign_groups(reachable, segment_col="segment", spend_col="spend",
                                  control_share=control_share, seed=seed,
                                  block_size=block_size)
    audience["action_code"] = audience["strategy"].map(camp.action_code)
    audience["action"] = audience["segment"].map(actions).fillna("")
    audience = audience[["customer_id", "segment", "persona", "strategy", "action_code",
                         "action", "group", "spend"]]
    audience.to_csv(run.audiences, index=False)
    balance = camp.group_balance(audience, segment_col="segment", spend_col="spend")
    names = (audience.drop_duplicates("segment").set_index("segment")["persona"]
             .astype(str).to_dict())
    summary = (audience.groupby(["segment", "persona", "strategy", "action_code"],
                                sort=True, dropna=False)
               .agg(customers=("customer_id", "size"),
                    treatment=("group", lambda g: int((g == "treatment").sum())),
                    control=("group", lambda g: int((g == "control").sum())))
               .reset_index())
    tier = camp.near_next_tier(table)
    if tier.empty and "membership" not in table:
        notes["next_tier"] = i18n.text("Skipped: the customer table has no membership grade.",
                                       lang)
    tier.to_csv(run.next_tier, index=False)

    # Over time: who entered or left a segment since the previous run.
    group = audience.set_index("customer_id")["group"]
    previous, previous_run, notes["segment_moves"] = _previous_customers(run, lang)
    moves = pd.DataFrame(columns=["customer_id", "previous_persona", "persona", "move",
                                  "strategy", "action_code", "action", "group"])
    move_table = counts = pd.DataFrame()
    headline = ""
    if previous is not None:
        moves = camp.segment_moves(previous, table)
        moves["group"] = moves["customer_id"].map(group).fillna("")
        move_table = camp.move_summary(moves, table)
        gone = [name for name in move_table["segment"]
                if name not in set(table["persona"].astype(str))]
        if gone:
            notes["segment_moves"] = i18n.text(
                "Segments of the previous run that this run does not have (renamed, merged or "
                "gone; their customers all count as moved): {segments}.", lang,
                segments=_joined([persona.persona_label(name, lang) for name in gone], lang))
        counts = camp.move_counts(moves, lang=lang)
        said = [i18n.text("{customers:,} {move}", lang, customers=row.customers, move=row.move)
                for row in counts.itertuples(index=False) if row.customers]
        headline = i18n.text(
            "Since the previous run {run}: {stayed:,} customers stayed in their segment; "
            "{moves}.", lang, run=previous_run, stayed=int(move_table["stayed"].sum()),
            moves=_joined(said, lang) if said else i18n.text("nobody moved", lang))
        move_table = move_table.assign(segment=move_table["segment"].map(
            lambda name: persona.persona_label(name, lang)))
    moves.to_csv(run.segment_moves, index=False)

    # By reach: growth x accessibility.
    has_consent = inputs.customers is not None and "contact_consent" in inputs.customers
    reach = camp.growth_accessibility(
        table, consent=table["customer_id"].isin(reachable["customer_id"]) if has_consent
        else None, engagement_days=engagement_days)
    access = reach.customers
    if access.empty:
        notes["growth_accessibility"] = i18n.text(
            "Skipped: the customer table has no revenue growth or no accessibility signal "
            "(channels, days since the last order).", lang)
        access = pd.DataFrame(columns=["customer_id", "persona", "quadrant", "action", "group"])
    else:
        access.insert(1, "persona", table["persona"].astype(str).to_numpy())
        access["group"] = access["customer_id"].map(group).fillna("")
        if reach.missing:
            notes["growth_accessibility"] = i18n.text(
                "Accessibility from {used} only: the data has no {missing}.", lang,
                used=_listed(reach.used, lang), missing=_listed(reach.missing, lang))
        order = {name: i for i, name in enumerate(camp.GROWTH_ACCESS_QUADRANTS)}
        access = access.sort_values(["quadrant", "customer_id"], key=lambda c: c.map(order)
                                    if c.name == "quadrant" else c, kind="mergesort",
                                    ignore_index=True)
    access.to_csv(run.growth_accessibility, index=False)

    # Campaign results in.
    effects = campaigns = srm = het = planted = pd.DataFrame()
    lines: list[str] = []
    readout_names = names
    if not run.exposures.exists():
        notes["campaign_readout"] = i18n.text(
            "Skipped: no campaign results were given; send the audiences above, then run "
            "again with --campaigns FILE (one row per customer contacted or held out).", lang)
    else:
        exposures = pd.read_parquet(run.exposures)
        transactions = open_log(inputs).lines()
        exposures, checks = camp.check_exposures(
            exposures, known_customers=table["customer_id"], as_of=inputs.as_of,
            log_end=transactions["order_date"].max(), window_days=campaign_window_days,
            lang=lang)
        labels_note = inputs.meta.campaigns
        checks = [labels_note, *checks] if labels_note else checks
        if inputs.partition is not None:
            checks.append(inputs.sample_note(whole=i18n.text("The audiences", lang),
                                             sampled=i18n.text("the campaign outcomes", lang),
                                             lang=lang))
            exposures = exposures[exposures["customer_id"].isin(transactions["customer_id"])]
        if "segment" not in exposures or exposures["segment"].isna().all():
            exposures["segment"] = exposures["customer_id"].map(
                people.set_index("customer_id")["segment"])
        else:
            readout_names = {}  # segments at send time are the exposures' own labels
        exposures["segment"] = exposures["segment"].astype(str)
        costs = inputs.meta.cost_table()
        shares: dict[str, float] = {}
        truth = pd.read_csv(run.campaign_truth) if run.campaign_truth.exists() else None
        if truth is not None:
            shares = truth.groupby("campaign")["control_share"].first().to_dict()
        shares.update(campaign_control_shares or {})
        shares = {name: shares.get(name, control_share)
                  for name in exposures["campaign"].astype(str).unique()}
        if exposures.empty:
            notes["campaign_readout"] = " ".join(
                [i18n.text("Skipped: no exposure could be read out.", lang), *checks])
        else:
            outcomes = camp.campaign_outcomes(exposures, transactions,
                                              window_days=campaign_window_days, costs=costs)
            result = camp.readout(outcomes, control_share=shares)
            effects, campaigns, srm, het = (result.effects, result.campaigns, result.srm,
                                            result.heterogeneity)
            flagged = campaigns[campaigns["srm_flag"]]
            if len(flagged):
                shown_shares = ", ".join(
                    i18n.text("{campaign} (control {share:.1%} of its customers, planned "
                              "{planned:.0%})", lang, campaign=row.campaign,
                              share=row.control_share, planned=row.planned_control_share)
                    for row in flagged.itertuples(index=False))
                checks.insert(0, i18n.text(
                    "SAMPLE RATIO MISMATCH in {campaigns}: p < 0.001, so customers were lost or "
                    "moved between groups; do not trust these effects until the cause is found "
                    "(if the plan was another split, give it in campaign_control_shares).", lang,
                    campaigns=shown_shares))
            notes["campaign_readout"] = " ".join(checks)
            lines = camp.sentences(result, lang=lang,
                                   names=_persona_labels(readout_names, lang))
            if truth is not None:
                planted = _planted_campaign_check(effects, truth)
    columns = ["campaign", "segment", "metric", "customers_treatment", "customers_control",
               "effect", "ci_low", "ci_high", "p_value", "p_adjusted", "significant",
               "raw_effect", "variance_reduction", "mde", "incremental", "cost",
               "incremental_after_cost"]
    shown = (effects.reindex(columns=columns).sort_values(["campaign", "segment", "metric"],
                                                           kind="mergesort")
             if not effects.empty else pd.DataFrame(columns=columns))
    shown.to_csv(run.campaign_readout, index=False)
    record_metrics(folder, "audiences", {
        "customers": len(audience), "not_contactable": left_out,
        "control": int((audience["group"] == "control").sum()),
        "control_share": control_share, "seed": seed,
        "max_std_difference": float(balance["std_difference"].abs().max())
        if len(balance) else None,
        "next_tier": len(tier),
        "previous_run": previous_run,
        "segment_moves": moves["move"].value_counts().sort_index().to_dict()
        if previous is not None else None,
        "growth_accessibility": access["quadrant"].value_counts().sort_index().to_dict()
        if len(access) else None,
        "accessibility_from": reach.used})
    record_metrics(folder, "campaigns", {
        str(row.campaign): {
            "customers_treatment": row.customers_treatment,
            "customers_control": row.customers_control,
            "planned_control_share": row.planned_control_share,
            "srm_p_value": row.srm_p_value, "srm_flag": bool(row.srm_flag),
            "incremental_revenue": row.incremental_revenue,
            "incremental_profit": row.incremental_profit, "cost": row.cost,
            "profit_after_cost": row.profit_after_cost,
            "window_days": campaign_window_days,
            "segments_differ_revenue": bool(het.loc[(het["campaign"] == row.campaign)
                                                    & (het["metric"] == "revenue"),
                                                    "segments_differ"].any()),
        } for row in campaigns.itertuples(index=False)})
    record_sections(folder, notes)
    shown_audience, masked = masked_for_display(folder, audience)
    return CampaignStage(
        audiences=camp.display_audience(shown_audience, lang=lang),
        audience_summary=camp.display_audience(summary, lang=lang), balance=balance,
        next_tier=tier,
        effects=shown, campaigns=campaigns, srm=camp.display_readout(srm, lang=lang),
        heterogeneity=camp.display_readout(het, lang=lang), sentences=lines,
        planted=planted, names=_persona_labels(names, lang),
        readout_names=_persona_labels(readout_names, lang), masked=masked,
        not_contactable=left_out, notes=notes,
        moves=camp.display_moves(masked_for_display(folder, moves)[0], lang=lang),
        move_counts=counts, move_summary=move_table, moves_headline=headline,
        previous_run=previous_run, growth_access=masked_for_display(folder, access)[0],
        growth_access_matrix=reach.matrix(lang), growth_access_summary=reach.summary(lang),
        lang=lang)


def _persona_labels(names: dict[str, str], lang: str) -> dict[str, str]:
    """Segment -> persona name, the names in the report's language (for display)."""
    return {segment: persona.persona_label(name, lang) for segment, name in names.items()}


def _joined(items: list[str], lang: str) -> str:
    """Join a short list as ``lang`` writes one ("a, b, c"; "a、b、c")."""
    text = items[0] if items else ""
    for item in items[1:]:
        text = i18n.text("{before}, {after}", lang, before=text, after=item)
    return text


def _listed(names: list[str], lang: str) -> str:
    """Name the items of a short list of English names in ``lang``."""
    return _joined([i18n.text(name, lang) for name in names], lang)


def _previous_customers(run: RunFolder, lang: str = "en"
                        ) -> tuple[pd.DataFrame | None, str | None, str]:
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
        return None, None, i18n.text(
            "Skipped: this study is not a run of a reports folder (a scratch folder or a "
            "workspace), so there is no previous run to compare with.", lang)
    out = folder.parent
    runs = history.list_runs(out)
    done = runs[(runs["status"] == "succeeded")
                & (runs["run_id"] != folder.name[1:].removesuffix(".partial"))]
    if done.empty:
        return None, None, i18n.text(
            "Skipped: no earlier run in {folder}/ succeeded; the next run will list who "
            "entered or left a segment since this one.", lang, folder=out.name)
    run_id = str(done["run_id"].iloc[-1])
    before = RunFolder(out / run_id)
    manifest = read_json(before.manifest)
    unmasked = manifest.get("masked", {}).get("unmasked_files")
    places = [before.path, *([Path(unmasked)] if unmasked else []), out / "private" / run_id]
    path = next((RunFolder(p).customers for p in places if RunFolder(p).customers.is_file()),
                None)
    if path is None:
        return None, run_id, i18n.text(
            "Skipped: the previous run {run} masked its customer ids and its unmasked customer "
            "table is no longer in {folder}/private/{run}/, so its customers cannot be matched "
            "with this run's.", lang, run=run_id, folder=out.name)
    import pyarrow.parquet as pq

    columns = pq.read_schema(path).names
    if "persona" not in columns:
        return None, run_id, i18n.text(
            "Skipped: the previous run {run} has no persona names to compare segments by.",
            lang, run=run_id)
    previous = pd.read_parquet(path, columns=[c for c in ("customer_id", "persona", "revenue")
                                              if c in columns])
    previous["customer_id"] = previous["customer_id"].astype("string")
    as_of = manifest.get("parameters", {}).get("as_of")
    name = i18n.text("{run} (analysis date {as_of})", lang, run=run_id, as_of=as_of) \
        if as_of else run_id
    return previous, name, ""


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


