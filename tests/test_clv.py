from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_RETAIL

from seglab import clv, features
from seglab.analysis_date import default_as_of
from seglab.errors import ConfigError, InputError

lifetimes_datasets = pytest.importorskip("lifetimes.datasets")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample of Fader, Hardie and Lee (2005), in weeks."""
    return lifetimes_datasets.load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="module")
def cdnow_fit(cdnow) -> clv.BetaGeoModel:
    return clv.BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_bgnbd_reproduces_published_cdnow_estimates(cdnow, cdnow_fit):
    assert len(cdnow) == 2357
    params = cdnow_fit.params_
    # Fader, Hardie and Lee (2005), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426.
    assert params["r"] == pytest.approx(0.243, abs=5e-4)
    assert params["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert params["a"] == pytest.approx(0.793, abs=5e-4)
    assert params["b"] == pytest.approx(2.426, abs=5e-4)
    assert cdnow_fit.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert cdnow_fit.converged_ and cdnow_fit.n_customers_ == 2357


#: Most likelihood evaluations a BG/NBD fit may take (CDNOW takes 292, Online Retail 380):
#: the fit's cost, counted instead of timed (benchmarks/bench_clv.py times it).
MAX_EVALUATIONS = 1000


def fit_counting(monkeypatch: pytest.MonkeyPatch, frequency, recency, T):
    """Fit BG/NBD; return the model, its likelihood evaluations and most rows one read."""
    evaluations, rows = [], []
    minimize, gammaln = clv.minimize, clv.gammaln

    def counted(*args, **kwargs):
        result = minimize(*args, **kwargs)
        evaluations.append(result.nfev)
        return result

    def sized(values, *args):
        rows.append(np.size(values))
        return gammaln(values, *args)

    monkeypatch.setattr(clv, "minimize", counted)
    monkeypatch.setattr(clv, "gammaln", sized)
    model = clv.BetaGeoModel().fit(frequency, recency, T)
    monkeypatch.undo()
    return model, sum(evaluations), max(rows)


def distinct_histories(frequency, recency, T) -> int:
    return len(np.unique(np.column_stack([frequency, recency, T]), axis=0))


def test_bgnbd_fit_reads_each_distinct_history_once_per_evaluation(cdnow, cdnow_fit,
                                                                   monkeypatch):
    args = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    model, evaluations, rows = fit_counting(monkeypatch, *args)
    assert model.params_ == cdnow_fit.params_
    assert rows == distinct_histories(*args) == 1016  # of 2,357 customers
    assert evaluations <= MAX_EVALUATIONS


def test_gamma_gamma_reproduces_published_cdnow_estimates(cdnow):
    model = clv.GammaGammaModel().fit(cdnow["frequency"], cdnow["monetary_value"])
    # Fader and Hardie (2013), note 025: p = 6.25, q = 3.74, gamma = 15.44 on 946 repeaters.
    assert model.n_customers_ == 946
    assert model.params_["p"] == pytest.approx(6.25, abs=0.01)
    assert model.params_["q"] == pytest.approx(3.74, abs=0.01)
    assert model.params_["v"] == pytest.approx(15.44, abs=0.01)


def test_predictions_agree_with_lifetimes(cdnow, cdnow_fit):
    fitters = pytest.importorskip("lifetimes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bg = fitters.BetaGeoFitter().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
        repeat = cdnow[cdnow["frequency"] > 0]
        gg = fitters.GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    args = (cdnow["frequency"], cdnow["recency"], cdnow["T"])
    ours = cdnow_fit.expected_purchases(39, *args)
    theirs = bg.conditional_expected_number_of_purchases_up_to_time(39, *args)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cdnow_fit.p_alive(*args),
                               bg.conditional_probability_alive(*args), atol=1e-5)
    np.testing.assert_allclose(cdnow_fit.expected_purchases_new([1.0, 39.0, 78.0]),
                               bg.expected_number_of_purchases_up_to_time(
                                   np.array([1.0, 39.0, 78.0])), rtol=1e-5)
    spend = clv.GammaGammaModel().fit(cdnow["frequency"], cdnow["monetary_value"])
    np.testing.assert_allclose(
        spend.expected_spend(cdnow["frequency"], cdnow["monetary_value"]),
        gg.conditional_expected_average_profit(cdnow["frequency"], cdnow["monetary_value"]),
        rtol=1e-4)


def test_expected_purchases_stay_finite_when_a_plus_b_below_one():
    # a + b < 1 makes 2F1(r, b; a + b - 1; z) negative for one-time buyers: no logarithms.
    model = clv.BetaGeoModel()
    model.params_ = {"r": 0.98, "alpha": 23.6, "a": 0.04, "b": 0.56}
    zero = np.zeros(3)
    t = np.array([30.0, 90.0, 180.0])
    conditional = model.expected_purchases(t, zero, zero, zero)
    assert np.isfinite(conditional).all() and (np.diff(conditional) > 0).all()
    # A customer observed for no time is a new customer: both formulas agree.
    np.testing.assert_allclose(conditional, model.expected_purchases_new(t), rtol=1e-10)
    heavy = model.expected_purchases(90.0, [400.0], [700.0], [720.0])
    assert np.isfinite(heavy).all() and heavy[0] > 0


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence(cdnow_fit):
    alive = cdnow_fit.p_alive([0, 5, 5], [0, 30, 10], [39, 39, 39])
    assert alive[0] == 1.0
    assert alive[1] > alive[2]  # same purchases, the later last purchase is more alive


def test_discounted_clv_telescopes_without_discount(cdnow, cdnow_fit):
    rfm = cdnow.iloc[:50]
    spend = np.full(len(rfm), 20.0)
    plain = clv.discounted_clv(cdnow_fit, spend, rfm, horizon_days=364, discount_rate=0.0,
                               time_unit="W")
    expected = 20.0 * cdnow_fit.expected_purchases(52, rfm["frequency"], rfm["recency"], rfm["T"])
    np.testing.assert_allclose(plain, expected, rtol=1e-9)
    discounted = clv.discounted_clv(cdnow_fit, spend, rfm, horizon_days=364,
                                    discount_rate=0.2, time_unit="W", margin=0.5)
    active = plain > 0.01
    assert (discounted[active] < 0.5 * plain[active]).all()
    assert (discounted[active] > 0.5 * plain[active] / 1.2).all()


def test_customer_clv_columns(cdnow):
    table, bgnbd, _ = clv.customer_clv(cdnow, margin=0.3, time_unit="W", forecast_days=91)
    assert list(table.columns) == ["p_alive", "expected_orders", "expected_spend", "clv"]
    assert table.index.equals(cdnow.index)
    np.testing.assert_allclose(
        table["expected_orders"],
        bgnbd.expected_purchases(13, cdnow["frequency"], cdnow["recency"], cdnow["T"]))
    assert (table["clv"] >= 0).all() and table["p_alive"].between(0, 1).all()


def _log() -> pd.DataFrame:
    days = ["2024-01-01", "2024-01-10", "2024-02-20", "2024-03-05", "2024-03-05", "2024-01-15",
            "2024-02-25"]
    return pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "a", "a", "b", "c"], dtype="string"),
        "order_date": pd.to_datetime(days),
        "amount": [10.0, 20.0, 30.0, 5.0, 5.0, 8.0, 9.0],
    })


def test_calibration_holdout_split():
    as_of = pd.Timestamp("2024-03-10")
    split = clv.calibration_holdout(_log(), as_of=as_of, holdout_days=30)
    # Calibration ends 2024-02-09: "c" first buys in the holdout and is left out.
    assert list(split.index) == ["a", "b"]
    assert split.loc["a", "frequency"] == 1 and split.loc["a", "T"] == 39
    assert split.loc["a", "holdout_purchases"] == 2  # 02-20 and 03-05 (two lines, one day)
    assert split.loc["b", "holdout_purchases"] == 0
    assert (split["holdout_periods"] == 30).all()
    expected = features.rfm_summary(_log()[_log()["order_date"] < "2024-02-10"],
                                     as_of="2024-02-09")
    pd.testing.assert_frame_equal(split[expected.columns], expected)


def test_holdout_check_groups(cdnow_fit):
    split = pd.DataFrame({"frequency": [0, 1, 9, 12], "recency": [0, 5, 30, 35],
                          "T": [39.0] * 4, "holdout_purchases": [0, 1, 5, 7],
                          "holdout_periods": [39.0] * 4})
    check = clv.holdout_check(split, cdnow_fit, max_frequency=7)
    assert list(check["calibration_purchases"]) == ["0", "1", "7+"]
    assert list(check["customers"]) == [1, 1, 2]
    assert check.loc[2, "actual"] == 6.0
    assert (check["predicted"] > 0).all()


def test_errors():
    with pytest.raises(InputError, match="recency > T"):
        clv.BetaGeoModel().fit([1, 2], [5, 50], [10, 20])
    with pytest.raises(InputError, match="needs repeat purchases"):
        clv.BetaGeoModel().fit([0, 0], [0, 0], [10, 20])
    with pytest.raises(InputError, match="negative value"):
        clv.BetaGeoModel().fit([1, -1], [1, 0], [10, 20])
    with pytest.raises(InputError, match="at least 2 repeat buyers"):
        clv.GammaGammaModel().fit([0, 3], [0, 10.0])
    with pytest.raises(ConfigError, match="not fitted"):
        clv.BetaGeoModel().p_alive([1], [1], [2])
    model = clv.BetaGeoModel()
    model.params_ = {"r": 1.0, "alpha": 1.0, "a": 1.5, "b": 2.0}
    rfm = pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [2.0]})
    with pytest.raises(ConfigError, match="horizon_days=0"):
        clv.discounted_clv(model, [1.0], rfm, horizon_days=0)
    with pytest.raises(ConfigError, match=r"discount_rate=1\.5"):
        clv.discounted_clv(model, [1.0], rfm, discount_rate=1.5)
    with pytest.raises(ConfigError, match=r"time_unit=.Q."):
        clv.discounted_clv(model, [1.0], rfm, time_unit="Q")
    with pytest.raises(ConfigError, match="leaves no calibration data"):
        clv.calibration_holdout(_log(), as_of=pd.Timestamp("2024-03-10"), holdout_days=100)
    with pytest.raises(InputError, match="missing RFM column"):
        clv.customer_clv(rfm)


@pytest.mark.skipif(not SHARED_RETAIL.exists(), reason="shared Online Retail data absent")
def test_online_retail_daily_fit_matches_lifetimes(monkeypatch):
    from seglab import clean, io

    fitters = pytest.importorskip("lifetimes")
    raw = io.load_transactions(SHARED_RETAIL, columns="online_retail")
    as_of = default_as_of(raw)
    tx = clean.clean_transactions(raw, as_of=as_of).transactions
    rfm = features.rfm_summary(tx, as_of=as_of)
    args = rfm["frequency"], rfm["recency"], rfm["T"]
    model, evaluations, rows = fit_counting(monkeypatch, *args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = fitters.BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    for name, value in reference.params_.items():
        assert model.params_[name] == pytest.approx(value, rel=2e-3), name
    assert rows == distinct_histories(*args) < len(rfm)
    assert evaluations <= MAX_EVALUATIONS


def test_predictions_per_distinct_history_equal_predictions_per_customer():
    # customer_clv predicts once per distinct (frequency, recency, T) and indexes back.
    rng = np.random.default_rng(0)
    n = 4000
    frequency = rng.integers(0, 5, n).astype(float)
    rfm = pd.DataFrame({
        "frequency": frequency,
        "recency": np.where(frequency > 0, rng.integers(0, 30, n), 0).astype(float),
        "T": rng.integers(30, 60, n).astype(float),
        "monetary_value": np.where(frequency > 0, rng.gamma(2.0, 20.0, n), 0.0),
    })
    table, bgnbd, _ = clv.customer_clv(rfm, margin=0.3)
    args = (rfm["frequency"], rfm["recency"], rfm["T"])
    assert len(rfm.drop_duplicates(["frequency", "recency", "T"])) < n / 1.5
    np.testing.assert_array_equal(table["p_alive"], bgnbd.p_alive(*args))
    np.testing.assert_array_equal(table["expected_orders"], bgnbd.expected_purchases(90, *args))
    by_customer = np.zeros(n)
    previous = np.zeros(n)
    for end in np.minimum(np.arange(1, 13) * clv.STEP_DAYS, 365):
        cumulative = bgnbd.expected_purchases(end, *args)
        by_customer += (cumulative - previous) / 1.1 ** (end / 365.25)
        previous = cumulative
    np.testing.assert_allclose(table["clv"], by_customer * table["expected_spend"] * 0.3,
                               rtol=1e-12)
