from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from seglab.analysis_date import day_end, default_as_of, parse_as_of
from seglab.clean import clean_transactions
from seglab.errors import ConfigError
from seglab.features import customer_features


@pytest.mark.parametrize(
    ("given", "expected"),
    [("2011-12-01", "2011-12-01"), (" 2011-12-01 ", "2011-12-01"),
     ("2011-12-01 08:30", "2011-12-01"), ("2011-12-01T08:30:15", "2011-12-01"),
     (pd.Timestamp("2011-12-01 23:59"), "2011-12-01"), (dt.date(2011, 12, 1), "2011-12-01"),
     (np.datetime64("2011-12-01T10:00"), "2011-12-01")],
)
def test_parse_as_of_gives_the_day(given, expected):
    assert parse_as_of(given) == pd.Timestamp(expected)


@pytest.mark.parametrize(
    ("given", "message"),
    [("bad", r"^--as-of 'bad': not a date; write it as YYYY-MM-DD"),
     ("01/12/2011", r"^--as-of '01/12/2011': not a date"),
     ("2011-12", r"^--as-of '2011-12': not a date"),
     ("2011-02-30", r"^--as-of '2011-02-30': no such day"),
     ("2011-12-01 25:00", r"^--as-of '2011-12-01 25:00': no such day or time"),
     (20111201, r"^--as-of=20111201: not a date"),
     (pd.NaT, r"^--as-of=NaT: not a date")],
)
def test_parse_as_of_rejects(given, message):
    with pytest.raises(ConfigError, match=message):
        parse_as_of(given)


def test_the_analysis_day_counts_whole():
    assert day_end(pd.Timestamp("2011-12-09 17:30")) == pd.Timestamp("2011-12-10")
    tx = pd.DataFrame({
        "customer_id": ["A", "A", "B"],
        "order_date": pd.to_datetime(["2011-12-08 10:00", "2011-12-09 23:59",
                                      "2011-12-10 00:00"]),
        "amount": [10.0, 5.0, 7.0],
    })
    assert default_as_of(tx) == pd.Timestamp("2011-12-11")
    # the same rule in the cleaning and the features: the 9th is in, the 10th out
    kept = clean_transactions(tx, as_of="2011-12-09 08:00").transactions
    assert kept["order_date"].max() == pd.Timestamp("2011-12-09 23:59")
    table = customer_features(tx, as_of=pd.Timestamp("2011-12-09 08:00"))
    assert table["customer_id"].tolist() == ["A"]
    assert table["revenue"].iat[0] == 15.0
