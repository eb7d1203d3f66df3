"""The analysis date (``as_of``): parsed and validated once, then a day that counts whole.

The rule, as lifetimes' ``observation_period_end``: the analysis date is a day, and that
day counts whole. Lines dated on it are in, lines from the next midnight on are out, and
by default it is the day after the last line. :func:`parse_as_of` reads what a user gives
(``--as-of``, a notebook parameter, a Python argument) into a :class:`pandas.Timestamp` at
midnight, raising one :class:`~seglab.errors.ConfigError`; from there on the date stays
that type. :func:`day_end` is the one place the rule is written down; every filter, SQL
bound and default date uses it.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from seglab.errors import ConfigError

#: One day; the analysis day ends one day after its midnight.
DAY = pd.Timedelta(days=1)

_AS_OF_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?)?")


def parse_as_of(value: str | dt.date | pd.Timestamp, *, option: str = "--as-of"
                ) -> pd.Timestamp:
    """Return the analysis date as a day (midnight), checking what was given.

    Text must be ISO ``YYYY-MM-DD``, optionally with a time, which is dropped: the
    analysis date is a day. Dates, datetimes and timestamps are taken as they are
    (a time zone is kept).

    Parameters
    ----------
    value : str or datetime.date or pandas.Timestamp
        E.g. ``"2011-12-01"``, ``"2011-12-01 12:00"`` or ``pd.Timestamp("2011-12-01")``.
    option : str, default "--as-of"
        Name of the option or argument, for the message.

    Returns
    -------
    pandas.Timestamp
        Midnight of the analysis day.

    Raises
    ------
    ConfigError
        ``--as-of 'bad': not a date; write it as YYYY-MM-DD, e.g. 2011-12-01``, or
        ``--as-of '2011-02-30': no such day``.

    Examples
    --------
    >>> parse_as_of("2011-12-01 12:00")
    Timestamp('2011-12-01 00:00:00')
    """
    if isinstance(value, str):
        text = value.strip()
        if not _AS_OF_RE.fullmatch(text):
            raise ConfigError(
                f"{option} {value!r}: not a date; write it as YYYY-MM-DD, e.g. 2011-12-01 "
                f"(optionally with a time, 2011-12-01 12:00)"
            )
        try:
            return pd.Timestamp(text.replace(" ", "T")).normalize()
        except ValueError:
            raise ConfigError(f"{option} {value!r}: no such day or time") from None
    if isinstance(value, bool) or not isinstance(value, dt.date | np.datetime64):
        raise ConfigError(f"{option}={value!r}: not a date; give e.g. '2011-12-01'.")
    day = pd.Timestamp(value)
    if pd.isna(day):
        raise ConfigError(f"{option}={value!r}: not a date; give e.g. '2011-12-01'.")
    return day.normalize()


def day_end(day: pd.Timestamp) -> pd.Timestamp:
    """Return the first instant after ``day``: the analysis day counts whole.

    A line is in when its date is before ``day_end(as_of)``; the default analysis date
    is ``day_end`` of the last line (the day after it).

    Parameters
    ----------
    day : pandas.Timestamp
        The analysis date (or a snapshot date); a time of day is ignored.

    Returns
    -------
    pandas.Timestamp
        Midnight after ``day``.

    Examples
    --------
    >>> day_end(pd.Timestamp("2011-12-09 17:30"))
    Timestamp('2011-12-10 00:00:00')
    """
    return pd.Timestamp(day).normalize() + DAY


def default_as_of(transactions: pd.DataFrame, *, date_col: str = "order_date"
                  ) -> pd.Timestamp:
    """Return the default analysis date: the day after the last transaction.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per order line.
    date_col : str
        Column of datetimes.

    Returns
    -------
    pandas.Timestamp
        :func:`day_end` of the latest date.
    """
    return day_end(transactions[date_col].max())
