"""Apache Spark for the customer aggregation: the session, reading a source, running SQL.

:mod:`seglab.engine` writes its SQL for DuckDB; with ``engine="spark"`` it comes here:
the same statements are transpiled by SQLGlot (DuckDB → Spark) and run with
``spark.sql``, results come back through Arrow. Imported only for ``engine="spark"``;
pyspark is the optional extra ``seglab[spark]``.

Timestamps are ``TIMESTAMP_NTZ`` (DuckDB's ``TIMESTAMP``, a wall-clock time without a
zone) from end to end, so pandas' naive timestamps never shift.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from seglab.engine import is_remote
from seglab.errors import ConfigError, InputError

INSTALL_HINT = "pip install 'seglab[spark]'"

#: Settings of the local session seglab starts when no SparkSession is active: no web
#: UI, UTC, Arrow, and a few shuffle partitions per core instead of Spark's 200 (meant for
#: clusters; on one machine they double the time of a small aggregation).
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": str(2 * (os.cpu_count() or 2)),
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

#: SQL settings of seglab's own session (a child of the active one, so a user's session
#: keeps its settings): UTC, so a zoned timestamp is read as DuckDB reads it; ANSI, so a
#: value that does not fit its type fails as in DuckDB instead of becoming NULL; Arrow
#: for moving pandas frames.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _pyspark():
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pyspark")  # pyspark on pandas 3
            import pyspark.sql
        import sqlglot  # noqa: F401 - needed to transpile
    except ImportError as err:
        raise ConfigError(
            f"engine='spark' needs pyspark and sqlglot ({err}); install them with "
            f"{INSTALL_HINT}."
        ) from err
    return pyspark.sql


def spark_session():
    """Return the active SparkSession, or start one.

    A session that exists is used as it is: a notebook's, Databricks', or one started
    by ``spark-submit`` (whose JVM is already running: Spark's own settings and
    ``--master`` apply). Otherwise a local session (``local[*]``) starts with
    :data:`LOCAL_CONF`, logging errors only.

    Returns
    -------
    pyspark.sql.SparkSession
        The session.

    Raises
    ------
    ConfigError
        If pyspark is not installed.
    """
    sql = _pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # launched by spark-submit or Databricks
        return sql.SparkSession.builder.appName("seglab").getOrCreate()
    builder = sql.SparkSession.builder.master("local[*]").appName("seglab")
    for key, value in LOCAL_CONF.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyspark")  # pyspark on pandas 3
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def sql_session() -> Iterator[object]:
    """Yield a session of seglab's own: its temporary views and :data:`SESSION_CONF`.

    A child of :func:`spark_session` (same cluster and cache), so the views seglab
    creates never replace a user's and its settings never change theirs. Spark Connect
    has no child sessions: there the settings are set on the session and put back.
    """
    parent = spark_session()
    try:
        session, restore = parent.newSession(), {}
    except Exception:  # Spark Connect: newSession is not supported
        session = parent
        restore = {key: parent.conf.get(key, None) for key in SESSION_CONF}
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    try:
        yield session
    finally:
        for key, value in restore.items():
            if value is None:
                session.conf.unset(key)
            else:
                session.conf.set(key, value)
        if session is not parent:
            _activate(parent)


def _activate(session) -> None:
    """Make ``session`` the active one again (``createDataFrame`` activates its own)."""
    cls = type(session)
    java_class = (cls._get_j_spark_session_class(session._jvm)  # pyspark 4
                  if hasattr(cls, "_get_j_spark_session_class") else session._jvm.SparkSession)
    java_class.setActiveSession(session._jsparkSession)
    cls._activeSession = session


def to_spark_sql(sql: str) -> str:
    """Transpile one DuckDB statement to Spark SQL with SQLGlot.

    Parameters
    ----------
    sql : str
        A DuckDB statement (seglab writes all its SQL for DuckDB).

    Returns
    -------
    str
        The Spark SQL statement.
    """
    _pyspark()
    import sqlglot

    (statement,) = sqlglot.transpile(sql, read="duckdb", write="spark")
    return statement


def _spark_type(dtype, types):
    if pd.api.types.is_datetime64_any_dtype(dtype):
        # Naive pandas timestamps are wall-clock times: TIMESTAMP_NTZ keeps them as they
        # are; Spark's default TIMESTAMP would read them in the session's time zone.
        return types.TimestampType() if getattr(dtype, "tz", None) else types.TimestampNTZType()
    if pd.api.types.is_bool_dtype(dtype):
        return types.BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return types.LongType()
    if pd.api.types.is_float_dtype(dtype):
        return types.DoubleType()
    return types.StringType()


def register_frame(session, frame: pd.DataFrame, name: str) -> None:
    """Make a pandas DataFrame the temporary view ``name`` (through Arrow).

    Parameters
    ----------
    session : pyspark.sql.SparkSession
        From :func:`sql_session`.
    frame : pandas.DataFrame
        The columns to move; text and object columns go as strings.
    name : str
        View name.
    """
    types = _pyspark().types
    fields = [types.StructField(str(c), _spark_type(d, types), True)
              for c, d in frame.dtypes.items()]
    texts = {c: frame[c].astype("string") for c, f in zip(frame, fields, strict=True)
             if isinstance(f.dataType, types.StringType)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pyspark")  # pyspark on pandas 3
        data = session.createDataFrame(frame.assign(**texts), schema=types.StructType(fields))
    data.createOrReplaceTempView(name)
    # Cached: otherwise every scan of the view ships the frame again with each task.
    session.catalog.cacheTable(name)


def drop_views(session, names: Iterable[str]) -> None:
    """Drop temporary views (and their cache) that seglab created."""
    for name in names:
        if session.catalog.tableExists(name):
            if session.catalog.isCached(name):
                session.catalog.uncacheTable(name)
            session.catalog.dropTempView(name)


def register_file(session, location: str, kind: str, name: str, *, sep: str = ",") -> list[str]:
    """Make a Parquet or CSV file, folder or glob the temporary view ``name``.

    Parameters
    ----------
    session : pyspark.sql.SparkSession
        From :func:`sql_session`.
    location : str
        A path or URI: one file, a folder of Parquet files (partition folders such as
        ``year=2011/`` become columns) or a glob.
    kind : {"parquet", "csv"}
        File format. CSV is read with a header and every column as text, as DuckDB
        reads it in :mod:`seglab.engine`.
    name : str
        View name.
    sep : str
        CSV field separator.

    Returns
    -------
    list of str
        The columns.

    Raises
    ------
    InputError
        If Spark cannot read it.
    """
    reader = session.read
    wildcard = min((location.find(c) for c in "*?[" if c in location), default=-1)
    if wildcard > 0 and "/" in location[:wildcard]:
        # Partition folders (year=2011/) under a glob become columns, as in DuckDB.
        reader = reader.option("basePath", location[:wildcard].rsplit("/", 1)[0] or "/")
    try:
        if kind == "parquet":
            data = _read_parquet(session, reader, location)
        else:
            data = reader.csv(location, header=True, sep=sep, escape='"')
    except InputError:
        raise
    except Exception as err:  # pyspark's AnalysisException & co.
        raise InputError(f"{location}: Spark cannot read it: {_first_line(err)}") from err
    data.createOrReplaceTempView(name)
    return list(data.columns)


def _read_parquet(session, reader, location: str):
    """Read Parquet, nanosecond timestamps (pandas' default) included.

    Spark refuses nanosecond timestamps: in local files they are read as integers and
    turned into microsecond ``TIMESTAMP_NTZ`` (``TIMESTAMP`` when stored in UTC).
    """
    nanos = {} if is_remote(location) else _nanosecond_columns(location)
    if not nanos:
        try:
            return reader.parquet(location)
        except Exception as err:
            if "PARQUET_TYPE_ILLEGAL" in str(err) and "NANOS" in str(err):
                raise InputError(
                    f"{location}: Spark cannot read nanosecond timestamps (pandas writes "
                    "them by default); write the files with df.to_parquet(path, "
                    "coerce_timestamps='us', allow_truncated_timestamps=True)."
                ) from err
            raise
    session.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    data = reader.parquet(location)
    expr = _pyspark().functions.expr
    # Through UTC (the session's zone), so wall-clock times do not shift.
    return data.withColumns({
        column: expr(f"CAST(timestamp_micros(`{column}` div 1000) AS {sql_type})")
        for column, sql_type in nanos.items()
    })


def _nanosecond_columns(location: str) -> dict[str, str]:
    """Map the nanosecond timestamp columns of local Parquet files to their Spark type."""
    import pyarrow.parquet as pq

    path = Path(location)
    files = ([path] if path.is_file() else sorted(path.glob("**/*.parquet")) if path.is_dir()
             else sorted(glob.glob(location)))
    if not files:
        return {}
    schema = pq.read_schema(files[0])
    return {field.name: "TIMESTAMP" if field.type.tz else "TIMESTAMP_NTZ" for field in schema
            if str(field.type).startswith("timestamp[ns")}


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def execute(session, sql: str) -> None:
    """Run a DuckDB statement (such as ``CREATE TEMP VIEW``) on Spark."""
    session.sql(to_spark_sql(sql))


def query(session, sql: str, label: str) -> pd.DataFrame:
    """Run a DuckDB query on Spark and return the result as a pandas DataFrame.

    Raises
    ------
    InputError
        When a value does not fit its column type (ANSI cast errors), naming ``label``.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="pyspark")  # pyspark on pandas 3
            return session.sql(to_spark_sql(sql)).toPandas()
    except Exception as err:
        message = _first_line(err)
        if "CAST_INVALID_INPUT" in message or "cannot be cast" in message.lower():
            raise InputError(
                f"{label}: a value does not fit its column type ({message}). Dates must be "
                "ISO (2011-12-09 12:50:00) to be read straight from a file; otherwise let "
                "seglab's intake read them."
            ) from err
        raise


def write_parquet(table: pd.DataFrame, location: str | Path) -> None:
    """Write a (small) pandas table with Spark, as a folder of Parquet files.

    For outputs on a cluster's storage (``hdfs://``, ``s3a://``, ``abfss://``,
    ``dbfs:/``) that the driver cannot write as a local file. Replaces what is there.
    """
    with sql_session() as session:
        register_frame(session, table, "seglab_output")
        try:
            session.table("seglab_output").write.mode("overwrite").parquet(str(location))
        finally:
            drop_views(session, ["seglab_output"])
