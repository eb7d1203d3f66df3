"""The one transform from customer table to clustering matrix, fitted once per run.

Notebook 02 fits a :class:`FeatureTransform` on the customer table and saves it with the
run (:func:`save_transform`); clustering (notebook 03) reads it back
(:func:`load_transform`) and stores it inside the :class:`seglab.cluster.SegmentModel`
with which dynamics (notebook 05) assigns every snapshot, so all three see the same
matrix. :data:`FEATURE_SETS` names what goes in: log scales, shrunken shares, block
weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from seglab.errors import ConfigError, InputError


@dataclass(frozen=True)
class Feature:
    """One feature (or a group of columns) of a feature set.

    Parameters
    ----------
    column : str
        Column of the customer table; a name ending in ``*`` is a group of columns
        with that prefix (e.g. ``"category_share_*"``). ``overdue_ratio`` is derived:
        days since the last order divided by the customer's mean days between orders
        (one-time buyers get the median gap of the customers fitted on).
    kind : {"log", "share", "plain", "raw"}
        ``log``: ``log1p`` of the value clipped at 0, then standardised. ``share``: a
        0-1 share shrunk toward the average customer's share by the number of orders,
        ``(orders * share + m * mean) / (orders + m)``, then standardised (a single
        order's share is mostly noise). ``plain``: standardised as is. ``raw``: used as
        is (no scaling; only for showing what scaling does).
    weight : float
        Weight of the feature; a group's weight is shared by its columns (each gets
        ``weight / sqrt(n_columns)``), so seven category shares count as much as one
        feature of the same weight.
    """

    column: str
    kind: str = "log"
    weight: float = 1.0


_BEHAVIOUR: tuple[Feature, ...] = (
    Feature("days_since_last_order", "log"),
    Feature("orders", "log"),
    Feature("avg_order_value", "log"),
    Feature("tenure_days", "log"),
    Feature("overdue_ratio", "log"),
    Feature("discount_share", "share"),
    Feature("return_share", "share", 0.5),
)

#: Feature sets for clustering, by name. ``behaviour_mix`` is the default: recency,
#: frequency, basket size, tenure and how overdue the next order is (all logged),
#: discount and return shares, plus the category and channel mix as two blocks of
#: weight 0.7 each. Columns a table lacks are skipped (the Online Retail log has no
#: discounts, categories or channels). ``rfm`` is log RFM; ``rfm_scaled`` and
#: ``rfm_raw`` are RFM without logs, standardised or not at all, for contrast.
FEATURE_SETS: dict[str, tuple[Feature, ...]] = {
    "behaviour_mix": (
        *_BEHAVIOUR,
        Feature("category_share_*", "share", 0.7),
        Feature("channel_share_*", "share", 0.7),
    ),
    "behaviour": _BEHAVIOUR,
    "rfm": (
        Feature("days_since_last_order", "log"),
        Feature("orders", "log"),
        Feature("revenue", "log"),
    ),
    "rfm_scaled": (
        Feature("days_since_last_order", "plain"),
        Feature("orders", "plain"),
        Feature("revenue", "plain"),
    ),
    "rfm_raw": (
        Feature("days_since_last_order", "raw"),
        Feature("orders", "raw"),
        Feature("revenue", "raw"),
    ),
}

DEFAULT_FEATURE_SET = "behaviour_mix"

#: Readable names of transformed features, for profiles.
FEATURE_LABELS: dict[str, str] = {
    "days_since_last_order": "days since last order",
    "orders": "orders",
    "avg_order_value": "average order value",
    "tenure_days": "tenure (days)",
    "overdue_ratio": "overdue (gaps since last order)",
    "discount_share": "discount share",
    "return_share": "return share",
    "revenue": "revenue",
}

_KINDS = ("log", "share", "plain", "raw")


def _derived_gap(table: pd.DataFrame) -> pd.Series | None:
    if "mean_days_between_orders" not in table:
        return None
    return pd.to_numeric(table["mean_days_between_orders"], errors="coerce")


class FeatureTransform(TransformerMixin, BaseEstimator):
    """Customer table → clustering matrix, as described by a feature set.

    Parameters
    ----------
    feature_set : str
        A key of :data:`FEATURE_SETS`.
    shrink_orders : float
        ``m`` of the share shrinkage: a customer with ``m`` orders keeps half of
        their own share. 0 turns shrinkage off.

    Attributes
    ----------
    columns_ : list of str
        Output columns (one per transformed feature, groups expanded).
    source_columns_ : list of str
        Columns of the customer table the transform reads.

    Examples
    --------
    >>> transform = FeatureTransform("rfm").fit(customers)  # doctest: +SKIP
    >>> X = transform.transform(customers)  # doctest: +SKIP
    """

    def __init__(self, feature_set: str = DEFAULT_FEATURE_SET, shrink_orders: float = 3.0):
        self.feature_set = feature_set
        self.shrink_orders = shrink_orders

    def _resolve(self, table: pd.DataFrame) -> list[tuple[str, str, float]]:
        if self.feature_set not in FEATURE_SETS:
            raise ConfigError(
                f"feature_set={self.feature_set!r} is unknown; use one of {sorted(FEATURE_SETS)}."
            )
        resolved = []
        for feature in FEATURE_SETS[self.feature_set]:
            if feature.kind not in _KINDS:
                raise ConfigError(f"Feature kind {feature.kind!r} is unknown; use one of {_KINDS}.")
            if feature.column.endswith("*"):
                names = sorted(c for c in table if c.startswith(feature.column[:-1]))
            elif feature.column == "overdue_ratio":
                present = {"days_since_last_order", "mean_days_between_orders"} <= set(table)
                names = [feature.column] if present else []
            else:
                names = [feature.column] if feature.column in table else []
            for name in names:
                resolved.append((name, feature.kind, feature.weight / np.sqrt(len(names))))
        if not resolved:
            wanted = [f.column for f in FEATURE_SETS[self.feature_set]]
            raise InputError(
                f"The customer table has none of the columns of feature_set="
                f"{self.feature_set!r} ({wanted}); it has {list(table.columns)}."
            )
        return resolved

    def _raw(self, table: pd.DataFrame, name: str) -> np.ndarray:
        if name == "overdue_ratio":
            gap = _derived_gap(table).fillna(self.gap_fill_).clip(lower=1.0)
            days = pd.to_numeric(table["days_since_last_order"], errors="coerce")
            return (days / gap).to_numpy(dtype=float)
        return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)

    def _values(self, table: pd.DataFrame, name: str, kind: str) -> np.ndarray:
        values = self._raw(table, name)
        values = np.where(np.isnan(values), self.fill_[name], values)
        if kind == "log":
            return np.log1p(np.clip(values, 0, None))
        if kind == "share" and self.shrinks_:
            orders = pd.to_numeric(table["orders"], errors="coerce").to_numpy(dtype=float)
            orders = np.clip(np.nan_to_num(orders), 0, None)
            m = self.shrink_orders
            return (orders * values + m * self.share_mean_[name]) / (orders + m)
        return values

    def fit(self, table: pd.DataFrame, y: None = None) -> FeatureTransform:
        """Learn fill values, share means, centres and scales from ``table``.

        Parameters
        ----------
        table : pandas.DataFrame
            Customer table (one row per customer).
        y : None
            Ignored.

        Returns
        -------
        FeatureTransform
            ``self``.

        Raises
        ------
        ConfigError
            If the feature set is unknown.
        InputError
            If the table has none of its columns, or no rows.
        """
        if len(table) == 0:
            raise InputError("The customer table is empty; there is nobody to cluster.")
        self.features_ = self._resolve(table)
        self.shrinks_ = bool(
            self.shrink_orders > 0 and "orders" in table
            and any(kind == "share" for _, kind, _ in self.features_)
        )
        gap = _derived_gap(table)
        self.gap_fill_ = float(gap.median()) if gap is not None and gap.notna().any() else 30.0
        if np.isnan(self.gap_fill_):
            self.gap_fill_ = 30.0
        self.fill_, self.share_mean_, self.center_, self.scale_ = {}, {}, {}, {}
        for name, kind, _ in self.features_:
            raw = self._raw(table, name)
            median = np.nanmedian(raw) if np.isfinite(raw).any() else 0.0
            self.fill_[name] = float(median)
            self.share_mean_[name] = float(np.nanmean(raw)) if np.isfinite(raw).any() else 0.0
            values = self._values(table, name, kind)
            std = float(np.std(values))
            self.center_[name] = 0.0 if kind == "raw" else float(np.mean(values))
            self.scale_[name] = 1.0 if kind == "raw" or std == 0 else std
        self.columns_ = [name for name, _, _ in self.features_]
        sources = {c for name in self.columns_ for c in (
            ("days_since_last_order", "mean_days_between_orders")
            if name == "overdue_ratio" else (name,))}
        self.source_columns_ = sorted(sources | ({"orders"} if self.shrinks_ else set()))
        return self

    def standardised(self, table: pd.DataFrame) -> pd.DataFrame:
        """Return the transformed features before weighting: z-scores, one column each.

        Parameters
        ----------
        table : pandas.DataFrame
            Customer table with the columns the transform was fitted on.

        Returns
        -------
        pandas.DataFrame
            One row per customer (same index), columns :attr:`columns_`.
        """
        check_is_fitted(self, "features_")
        missing = sorted(set(self.source_columns_) - set(table))
        if missing:
            raise InputError(f"The customer table lacks column(s) {missing} the model needs.")
        data = {
            name: (self._values(table, name, kind) - self.center_[name]) / self.scale_[name]
            for name, kind, _ in self.features_
        }
        return pd.DataFrame(data, index=table.index)

    def transform(self, table: pd.DataFrame) -> np.ndarray:
        """Return the clustering matrix: standardised, weighted features.

        Parameters
        ----------
        table : pandas.DataFrame
            Customer table with the columns the transform was fitted on.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(table), len(columns_))``, float64, no missing values.
        """
        frame = self.standardised(table)
        weights = np.array([w for _, _, w in self.features_])
        return frame.to_numpy(dtype=float) * weights

    def summary(self) -> pd.DataFrame:
        """Describe each matrix column: source, step, fill value, centre, scale and weight.

        Returns
        -------
        pandas.DataFrame
            One row per output column (:attr:`columns_`), with ``column``, ``step``
            (``log1p``, ``shrunk share``, ``as is`` or ``raw``), ``missing_filled_with``,
            ``center``, ``scale`` and ``weight``.
        """
        check_is_fitted(self, "features_")
        steps = {"log": "log1p", "share": "shrunk share" if self.shrinks_ else "as is",
                 "plain": "as is", "raw": "raw"}
        return pd.DataFrame([
            {"column": name, "step": steps[kind], "missing_filled_with": self.fill_[name],
             "center": self.center_[name], "scale": self.scale_[name], "weight": weight}
            for name, kind, weight in self.features_
        ])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns (sklearn convention)."""
        check_is_fitted(self, "features_")
        return np.array(self.columns_, dtype=object)


def make_transform(features: pd.DataFrame,
                   feature_set: str = DEFAULT_FEATURE_SET) -> FeatureTransform:
    """Build the (unfitted) transform from customer table to clustering matrix.

    Parameters
    ----------
    features : pandas.DataFrame
        Customer table; only checked for the feature set's columns.
    feature_set : str
        A key of :data:`FEATURE_SETS`.

    Returns
    -------
    FeatureTransform
        Fit it on the customer table; ``transform`` gives the matrix.

    Raises
    ------
    ConfigError
        If ``feature_set`` is unknown.
    InputError
        If the table has none of its columns.
    """
    transform = FeatureTransform(feature_set)
    transform._resolve(features)
    return transform


def feature_label(name: str) -> str:
    """Return a readable name for a feature (``category_share_home`` → ``category: home``)."""
    if name in FEATURE_LABELS:
        return FEATURE_LABELS[name]
    for prefix, what in (("category_share_", "category"), ("channel_share_", "channel")):
        if name.startswith(prefix):
            return f"{what}: {name[len(prefix):].replace('_', ' ')}"
    return name.replace("_", " ")


def save_transform(transform: FeatureTransform, path: str | Path) -> Path:
    """Write a fitted transform with joblib and return the path."""
    import joblib

    check_is_fitted(transform, "features_")
    path = Path(path)
    joblib.dump(transform, path)
    return path


def load_transform(path: str | Path) -> FeatureTransform:
    """Read a transform written by :func:`save_transform`.

    Raises
    ------
    InputError
        If the file does not exist or holds something else.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no saved feature transform; run the feature stage first.")
    transform = joblib.load(path)
    if not isinstance(transform, FeatureTransform):
        raise InputError(f"{path}: holds a {type(transform).__name__}, not a FeatureTransform.")
    return transform
