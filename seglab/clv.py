"""Customer lifetime value: BG/NBD purchases and P(alive), Gamma-Gamma spend, discounted CLV.

The models are fitted by maximum likelihood with scipy, on the lifetimes-compatible RFM
columns of :func:`seglab.features.rfm_summary` (``frequency``, ``recency``, ``T`` in
the run's time unit, ``monetary_value``). Why not a library: pymc-marketing (the
maintained home of these models) is not installed here and pulls in PyMC and its
compiler stack for what is a four-parameter likelihood; lifetimes is unmaintained
(last release 2020, warnings on current pandas). The tests check this module against
the published CDNOW estimates and against lifetimes.

References
----------
Fader, Hardie and Lee (2005), "Counting your customers the easy way: an alternative to
the Pareto/NBD model", Marketing Science 24(2). Fader and Hardie (2013), "The
Gamma-Gamma model of monetary value", http://www.brucehardie.com/notes/025/.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

from seglab import features, i18n
from seglab.analysis_date import day_end, parse_as_of
from seglab.errors import ConfigError, DataWarning, InputError

#: Days per period of each time unit of :data:`seglab.features.TIME_UNITS`.
TIME_UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12}

#: Days in the monthly steps in which CLV is discounted.
STEP_DAYS = 365.25 / 12


def _days_per_period(time_unit: str) -> float:
    if time_unit not in TIME_UNIT_DAYS:
        raise ConfigError(
            f"time_unit={time_unit!r} is not supported; use one of {sorted(TIME_UNIT_DAYS)}."
        )
    return TIME_UNIT_DAYS[time_unit]


def _arrays(**columns: ArrayLike) -> dict[str, np.ndarray]:
    arrays = {name: np.asarray(values, dtype=float) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise InputError(f"RFM columns {list(arrays)} have different lengths {sorted(lengths)}.")
    for name, values in arrays.items():
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise InputError(
                f"RFM column {name!r} has {int(bad.sum())} missing, infinite or negative "
                f"value(s), e.g. {values[bad][0]!r}; expected counts and durations >= 0."
            )
    return arrays


def _fit(negative_ll: Any, start: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Minimise a negative log-likelihood over log parameters; return params, LL, ok."""
    with np.errstate(all="ignore"):
        first = minimize(negative_ll, start, method="L-BFGS-B",
                         bounds=[(-12.0, 12.0)] * len(start))
        final = minimize(negative_ll, first.x, method="Nelder-Mead",
                         options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 4000})
    best = final if final.fun <= first.fun else first
    return np.exp(best.x), float(best.fun), bool(final.success or first.success)


class BetaGeoModel:
    """BG/NBD model of repeat purchases and dropout (Fader, Hardie and Lee 2005).

    Purchases of an alive customer follow a Poisson process with rate
    lambda ~ Gamma(r, alpha); after each purchase the customer drops out with
    probability p ~ Beta(a, b).

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters (0 = plain maximum likelihood, as published).

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (in the time unit of the data), ``a``, ``b``.
    log_likelihood_ : float
        Total log-likelihood at the optimum.
    n_customers_ : int
        Customers fitted.
    fit_seconds_ : float
        Wall time of the fit.
    converged_ : bool
        Whether the optimiser reported success.

    Examples
    --------
    >>> model = BetaGeoModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])  # doctest: +SKIP
    >>> model.p_alive(rfm["frequency"], rfm["recency"], rfm["T"])  # doctest: +SKIP
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Repeat purchase periods, periods from first to last purchase, periods from
            first purchase to the end of observation (lifetimes' columns).

        Returns
        -------
        BetaGeoModel
            ``self``, fitted.

        Raises
        ------
        InputError
            If the columns are inconsistent (recency > T, recency without repeat
            purchases) or nobody bought twice.
        """
        data = _arrays(frequency=frequency, recency=recency, T=T)
        x, tx, big_t = data["frequency"], data["recency"], data["T"]
        if len(x) == 0:
            raise InputError("BG/NBD needs at least one customer; got none.")
        if (tx > big_t + 1e-9).any():
            i = int(np.argmax(tx > big_t + 1e-9))
            raise InputError(f"recency > T for {int((tx > big_t + 1e-9).sum())} customer(s), "
                             f"e.g. recency={tx[i]}, T={big_t[i]}; recency counts up to T.")
        if not (x > 0).any():
            raise InputError("no customer bought in more than one period: BG/NBD needs repeat "
                             "purchases (use a shorter time unit or more history).")
        keys, counts = np.unique(np.column_stack([x, tx, big_t]), axis=0, return_counts=True)
        ux, utx, ut = keys[:, 0], keys[:, 1], keys[:, 2]
        weights = counts.astype(float)
        repeat = ux > 0
        penalizer = self.penalizer

        def negative_ll(log_params: np.ndarray) -> float:
            r, alpha, a, b = np.exp(log_params)
            a1 = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
            a2 = betaln(a, b + ux) - betaln(a, b)
            a3 = -(r + ux) * np.log(alpha + ut)
            a4 = np.log(a) - np.log(b + np.maximum(ux, 1) - 1) - (r + ux) * np.log(alpha + utx)
            a4 = np.where(repeat, a4, -np.inf)
            ll = a1 + a2 + np.logaddexp(a3, a4)
            value = -(weights * ll).sum() / weights.sum()
            return float(value + penalizer * np.sum(np.exp(log_params) ** 2))

        started = time.perf_counter()
        params, mean_nll, converged = _fit(negative_ll, np.zeros(4))
        self.fit_seconds_ = time.perf_counter() - started
        self.params_ = dict(zip(("r", "alpha", "a", "b"), (float(p) for p in params),
                                strict=True))
        self.log_likelihood_ = -mean_nll * weights.sum()
        self.n_customers_ = len(x)
        self.converged_ = converged
        return self

    def _check_fitted(self) -> tuple[float, float, float, float]:
        if not hasattr(self, "params_"):
            raise ConfigError("this BetaGeoModel is not fitted yet; call fit() first.")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Probability that each customer is still active at the end of observation.

        Parameters
        ----------
        frequency, recency, T : array-like
            The customers' RFM columns.

        Returns
        -------
        numpy.ndarray
            P(alive), 1 for customers without repeat purchases (BG/NBD: a customer can
            only drop out right after a purchase).
        """
        r, alpha, a, b = self._check_fitted()
        data = _arrays(frequency=frequency, recency=recency, T=T)
        x, tx, big_t = data["frequency"], data["recency"], data["T"]
        log_ratio = (r + x) * np.log((alpha + big_t) / (alpha + tx)) + np.log(
            a / (b + np.maximum(x, 1) - 1)
        )
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)

    def expected_purchases(
        self, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Predict repeat purchases in the next ``t`` periods, given each history.

        Equation (10) of Fader, Hardie and Lee (2005).

        Parameters
        ----------
        t : float or array-like
            Forecast length, in periods of the data.
        frequency, recency, T : array-like
            The customers' RFM columns.

        Returns
        -------
        numpy.ndarray
            Expected purchases (periods with a purchase) per customer.
        """
        r, alpha, a, b = self._check_fitted()
        data = _arrays(frequency=frequency, recency=recency, T=T)
        x, tx, big_t = data["frequency"], data["recency"], data["T"]
        t = np.asarray(t, dtype=float)
        hyp_a, hyp_b, hyp_c = r + x, b + x, a + b + x - 1
        z = t / (alpha + big_t + t)
        with np.errstate(all="ignore"):
            # 2F1 * (1 - z)^(r + x); the hypergeometric factor can be negative (a + b < 1
            # with x = 0), so no logarithms. Where the direct series overflows, Euler's
            # transformation gives the same product as 2F1(c-a, c-b; c; z) (1 - z)^(a - 1).
            direct = hyp2f1(hyp_a, hyp_b, hyp_c, z) * (1 - z) ** (r + x)
            euler = hyp2f1(hyp_c - hyp_a, hyp_c - hyp_b, hyp_c, z) * (1 - z) ** (a - 1)
            product = np.where(np.isfinite(direct), direct, euler)
            first = (a + b + x - 1) / (a - 1)
            second = 1 - product
            denominator = 1 + (x > 0) * (a / (b + x - 1)) * (
                (alpha + big_t) / (alpha + tx)) ** (r + x)
        return first * second / denominator

    def expected_purchases_new(self, t: float | ArrayLike) -> np.ndarray:
        """Predict repeat purchases in ``t`` periods of a newly acquired customer.

        Equation (9) of Fader, Hardie and Lee (2005).

        Parameters
        ----------
        t : float or array-like
            Periods since the first purchase.

        Returns
        -------
        numpy.ndarray
            E[X(t)].
        """
        r, alpha, a, b = self._check_fitted()
        t = np.asarray(t, dtype=float)
        return (a + b - 1) / (a - 1) * (
            1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t))
        )


class GammaGammaModel:
    """Gamma-Gamma model of spend per purchase (Fader and Hardie 2013).

    A customer's purchases are Gamma(p, nu) with nu ~ Gamma(q, v); spend is assumed
    independent of purchase frequency. Fitted on repeat buyers with positive spend.

    Parameters
    ----------
    penalizer : float
        L2 penalty on the parameters.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``v`` (``v`` in currency).
    n_customers_ : int
        Repeat buyers fitted.
    fit_seconds_ : float
        Wall time of the fit.
    converged_ : bool
        Whether the optimiser reported success.
    """

    def __init__(self, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaModel:
        """Fit by maximum likelihood on customers with ``frequency > 0`` and spend > 0.

        Parameters
        ----------
        frequency : array-like
            Repeat purchase periods.
        monetary_value : array-like
            Mean spend per repeat period (lifetimes' ``monetary_value``).

        Returns
        -------
        GammaGammaModel
            ``self``, fitted.

        Raises
        ------
        InputError
            If fewer than two repeat buyers have positive spend.
        """
        x = np.asarray(frequency, dtype=float)
        m = np.asarray(monetary_value, dtype=float)
        if x.shape != m.shape:
            raise InputError(f"frequency and monetary_value differ in length: {x.shape} vs "
                             f"{m.shape}.")
        used = (x > 0) & np.isfinite(m) & (m > 0)
        if used.sum() < 2:
            raise InputError(f"Gamma-Gamma needs at least 2 repeat buyers with positive spend; "
                             f"got {int(used.sum())}.")
        x, m = x[used], m[used]
        penalizer = self.penalizer

        def negative_ll(log_params: np.ndarray) -> float:
            p, q, v = np.exp(log_params)
            ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
                  + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
            return float(-ll.mean() + penalizer * np.sum(np.exp(log_params) ** 2))

        started = time.perf_counter()
        start = np.array([0.0, 0.0, np.log(np.median(m))])
        params, _, converged = _fit(negative_ll, start)
        self.fit_seconds_ = time.perf_counter() - started
        self.params_ = dict(zip(("p", "q", "v"), (float(p) for p in params), strict=True))
        self.n_customers_ = int(used.sum())
        self.converged_ = converged
        self.observed_mean_ = float(m.mean())
        return self

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray:
        """Predict spend per future purchase, given each customer's history.

        A weighted average of the customer's own mean spend and the population mean,
        the weight growing with repeat purchases. Customers without repeat purchases
        get the population mean; a non-positive mean spend counts as zero.

        Parameters
        ----------
        frequency, monetary_value : array-like
            The customers' RFM columns.

        Returns
        -------
        numpy.ndarray
            Expected spend per purchase.
        """
        if not hasattr(self, "params_"):
            raise ConfigError("this GammaGammaModel is not fitted yet; call fit() first.")
        p, q, v = self.params_["p"], self.params_["q"], self.params_["v"]
        x = np.asarray(frequency, dtype=float)
        m = np.clip(np.nan_to_num(np.asarray(monetary_value, dtype=float)), 0.0, None)
        if q <= 1:
            warnings.warn(f"Gamma-Gamma q={q:.3f} <= 1: the population mean spend is undefined; "
                          "using observed means instead.", DataWarning, stacklevel=2)
            return np.where(x > 0, m, self.observed_mean_)
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * (p * v / (q - 1)) + weight * m


def discounted_clv(
    bgnbd: BetaGeoModel,
    spend: ArrayLike,
    rfm: pd.DataFrame,
    *,
    margin: float | ArrayLike = 1.0,
    horizon_days: float = 365.0,
    discount_rate: float = 0.10,
    time_unit: str = "D",
) -> np.ndarray:
    """Discounted value of each customer's expected purchases over a horizon.

    The horizon is cut into monthly steps; the purchases expected in each step are
    valued at the expected spend times ``margin`` and discounted at the annual
    ``discount_rate`` to the end of the step.

    Parameters
    ----------
    bgnbd : BetaGeoModel
        Fitted purchase model.
    spend : array-like
        Expected spend per purchase per customer (:meth:`GammaGammaModel.expected_spend`).
    rfm : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` of the same customers.
    margin : float or array-like
        Share of spend kept as contribution (1 gives discounted revenue).
    horizon_days : float
        Forecast horizon in days.
    discount_rate : float
        Annual discount rate.
    time_unit : {"D", "W", "M"}
        Period of the RFM columns.

    Returns
    -------
    numpy.ndarray
        CLV per customer, in currency.

    Raises
    ------
    ConfigError
        If the horizon is not positive or the discount rate is negative.
    """
    days = _days_per_period(time_unit)
    if not horizon_days > 0:
        raise ConfigError(f"horizon_days={horizon_days} should be > 0.")
    if not 0 <= discount_rate < 1:
        raise ConfigError(f"discount_rate={discount_rate} should be in [0, 1) (0.1 = 10% a year).")
    ends = np.minimum(np.arange(1, int(np.ceil(horizon_days / STEP_DAYS)) + 1) * STEP_DAYS,
                      horizon_days)
    histories, inverse = _unique_histories(rfm)
    args = (histories["frequency"], histories["recency"], histories["T"])
    value = np.zeros(len(histories))
    previous = np.zeros(len(histories))
    for end in ends:
        cumulative = bgnbd.expected_purchases(end / days, *args)
        value += (cumulative - previous) / (1 + discount_rate) ** (end / 365.25)
        previous = cumulative
    return value[inverse] * np.asarray(spend, dtype=float) * np.asarray(margin, dtype=float)


def _unique_histories(rfm: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the distinct (frequency, recency, T) rows and each customer's row among them.

    The BG/NBD predictions depend on nothing else, and ten million customers have
    about two million distinct histories: predicting those and indexing back gives the
    same numbers five times faster.
    """
    columns = ["frequency", "recency", "T"]
    inverse = rfm.groupby(columns, sort=False, dropna=False).ngroup().to_numpy()
    return rfm[columns].drop_duplicates(), inverse


def calibration_holdout(
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    holdout_days: int,
    time_unit: str = "D",
) -> pd.DataFrame:
    """Split transactions at ``as_of - holdout_days``: RFM before, purchases after.

    Lines on the calibration end day are in the calibration period (as for ``as_of``);
    the holdout runs from the next day to ``as_of`` inclusive.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Clean canonical transactions.
    as_of : pandas.Timestamp
        Analysis date (end of the holdout).
    holdout_days : int
        Length of the holdout period in days.
    time_unit : {"D", "W", "M"}
        Period of the RFM columns.

    Returns
    -------
    pandas.DataFrame
        One row per customer who bought in the calibration period, indexed by
        ``customer_id``: ``frequency``, ``recency``, ``T``, ``monetary_value`` (from
        :func:`seglab.features.rfm_summary` at the calibration end),
        ``holdout_purchases`` (periods with a transaction in the holdout, as lifetimes
        counts them) and ``holdout_periods`` (holdout length in periods).

    Raises
    ------
    ConfigError
        If the holdout is not positive or leaves no calibration data.
    """
    days = _days_per_period(time_unit)
    as_of = parse_as_of(as_of, option="as_of")
    if holdout_days <= 0:
        raise ConfigError(f"holdout_days={holdout_days} should be > 0.")
    calibration_end = as_of - pd.Timedelta(days=holdout_days)
    cut = day_end(calibration_end)
    dates = transactions["order_date"]
    before = transactions[dates < cut]
    after = transactions[(dates >= cut) & (dates < day_end(as_of))]
    if before.empty:
        first = dates.min()
        raise ConfigError(
            f"holdout_days={holdout_days} leaves no calibration data: the first transaction "
            f"({first:%Y-%m-%d}) is after the calibration end ({calibration_end:%Y-%m-%d})."
        )
    split = features.rfm_summary(before, as_of=calibration_end, time_unit=time_unit)
    if after.empty:
        periods = pd.Series(0.0, index=split.index)
    else:
        periods = features.rfm_summary(after, as_of=as_of, time_unit=time_unit)["frequency"] + 1
    split["holdout_purchases"] = periods.reindex(split.index).fillna(0.0)
    split["holdout_periods"] = holdout_days / days
    return split


def holdout_check(
    split: pd.DataFrame, bgnbd: BetaGeoModel, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Predicted against actual holdout purchases, by repeat purchases in calibration.

    Parameters
    ----------
    split : pandas.DataFrame
        Output of :func:`calibration_holdout`.
    bgnbd : BetaGeoModel
        Model fitted on the calibration columns of ``split``.
    max_frequency : int
        Calibration repeat purchases from this number up are pooled in one group.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``calibration_purchases`` (label, e.g. ``"7+"``),
        ``customers``, ``actual`` and ``predicted`` (mean holdout purchases per customer).
    """
    predicted = bgnbd.expected_purchases(split["holdout_periods"], split["frequency"],
                                         split["recency"], split["T"])
    group = split["frequency"].clip(upper=max_frequency).astype(int)
    table = (
        pd.DataFrame({"group": group.to_numpy(), "actual": split["holdout_purchases"].to_numpy(),
                      "predicted": predicted})
        .groupby("group", sort=True)
        .agg(customers=("actual", "size"), actual=("actual", "mean"),
             predicted=("predicted", "mean"))
        .reset_index()
    )
    labels = table["group"].astype(str)
    labels[table["group"] == max_frequency] = f"{max_frequency}+"
    table.insert(0, "calibration_purchases", labels)
    return table.drop(columns="group")


def customer_clv(
    rfm: pd.DataFrame,
    *,
    margin: float | ArrayLike = 1.0,
    horizon_days: float = 365.0,
    discount_rate: float = 0.10,
    time_unit: str = "D",
    forecast_days: float = 90.0,
    fit_sample: int | None = None,
    random_state: int = 0,
) -> tuple[pd.DataFrame, BetaGeoModel, GammaGammaModel]:
    """Fit both models on the customers' RFM columns and predict per customer.

    Parameters
    ----------
    rfm : pandas.DataFrame
        ``frequency``, ``recency``, ``T`` and ``monetary_value`` per customer (one row
        each, any index), in periods of ``time_unit``.
    margin : float or array-like
        Contribution share of spend, per customer or for all.
    horizon_days : float
        CLV horizon in days.
    discount_rate : float
        Annual discount rate.
    time_unit : {"D", "W", "M"}
        Period of the RFM columns.
    forecast_days : float
        Horizon of ``expected_orders`` in days (90 for the CRM export).
    fit_sample : int, optional
        Fit both models on this many customers drawn at random (``random_state``), then
        predict for all: four and three parameters need no ten million rows, and each
        likelihood evaluation reads every row. None fits on all.
    random_state : int
        Seed of the fit sample.

    Returns
    -------
    tuple
        A table with the index of ``rfm`` and columns ``p_alive``,
        ``expected_orders`` (purchase periods in the next ``forecast_days``),
        ``expected_spend`` (per purchase), ``clv`` (discounted contribution over the
        horizon); and the two fitted models.
    """
    days = _days_per_period(time_unit)
    missing = [c for c in ("frequency", "recency", "T", "monetary_value") if c not in rfm]
    if missing:
        raise InputError(f"customer table: missing RFM column(s) {missing}; run the feature "
                         "stage (features.rfm_summary) first.")
    fit_on = rfm
    if fit_sample is not None and len(rfm) > fit_sample:
        fit_on = rfm.sample(fit_sample, random_state=random_state)
    bgnbd = BetaGeoModel().fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])
    spend_model = GammaGammaModel().fit(fit_on["frequency"], fit_on["monetary_value"])
    histories, inverse = _unique_histories(rfm)
    args = (histories["frequency"], histories["recency"], histories["T"])
    spend = spend_model.expected_spend(rfm["frequency"], rfm["monetary_value"])
    table = pd.DataFrame(
        {
            "p_alive": bgnbd.p_alive(*args)[inverse],
            "expected_orders": bgnbd.expected_purchases(forecast_days / days, *args)[inverse],
            "expected_spend": spend,
            "clv": discounted_clv(bgnbd, spend, rfm, margin=margin, horizon_days=horizon_days,
                                  discount_rate=discount_rate, time_unit=time_unit),
        },
        index=rfm.index,
    )
    return table, bgnbd, spend_model


def parameter_table(
    bgnbd: BetaGeoModel, spend: GammaGammaModel, *, time_unit: str = "D", lang: str = "en"
) -> pd.DataFrame:
    """Tabulate the fitted parameters with what each means, for the report.

    Parameters
    ----------
    bgnbd : BetaGeoModel
        Fitted purchase model.
    spend : GammaGammaModel
        Fitted spend model.
    time_unit : {"D", "W", "M"}
        Period of the data.
    lang : {"en", "zh"}
        Language of ``meaning``.

    Returns
    -------
    pandas.DataFrame
        Columns ``model``, ``parameter``, ``value`` and ``meaning`` (fit times are
        left out so that reruns give identical reports; they are in ``metrics.json``).
    """
    unit = features.TIME_UNITS.get(time_unit, time_unit)
    shown_unit = i18n.text(unit, lang)
    r, alpha, a, b = (bgnbd.params_[k] for k in ("r", "alpha", "a", "b"))
    p, q, v = (spend.params_[k] for k in ("p", "q", "v"))
    rows = [
        ("BG/NBD", "r", r, i18n.text("shape of purchase rates across customers", lang)),
        ("BG/NBD", "alpha", alpha,
         i18n.text("scale of purchase rates ({unit}s); mean rate r/alpha = {rate:.4f} per "
                   "{unit}", lang, unit=shown_unit, rate=r / alpha)),
        ("BG/NBD", "a", a, i18n.text("dropout after a purchase: Beta(a, b)", lang)),
        ("BG/NBD", "b", b, i18n.text("mean dropout probability a/(a+b) = {rate:.1%} per "
                                     "purchase", lang, rate=a / (a + b))),
        ("Gamma-Gamma", "p", p, i18n.text("shape of spend per purchase", lang)),
        ("Gamma-Gamma", "q", q, i18n.text("shape of customers' spend levels", lang)),
        ("Gamma-Gamma", "v", v,
         i18n.text("scale of spend levels; mean spend per purchase p·v/(q-1) = {mean:,.2f}",
                   lang, mean=p * v / (q - 1)) if q > 1 else
         i18n.text("scale of spend levels; mean spend per purchase undefined (q <= 1)", lang)),
    ]
    table = pd.DataFrame(rows, columns=["model", "parameter", "value", "meaning"])
    fitted = {"BG/NBD": bgnbd.n_customers_, "Gamma-Gamma": spend.n_customers_}
    table.insert(1, "customers", table["model"].map(fitted))
    return table
