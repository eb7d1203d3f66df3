"""Masking personal identifiers so a run folder can be shared outside the analytics team."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

import pandas as pd

from seglab.runfolder import FILES

#: Files of a run folder that hold individual-level data. With ``--mask-pii`` they move
#: to ``<out>/private/<run-id>/`` and a masked ``customers.csv`` takes their place.
PRIVATE_FILES: tuple[str, ...] = tuple(str(path) for path in (
    FILES.inputs, FILES.transactions, FILES.customers, FILES.customers_csv,
    FILES.cluster_model, FILES.recommendations,
))

#: Individual-level CSV exports: with ``--mask-pii`` the unmasked file moves to the
#: private folder and a masked copy stays in the run folder.
MASKED_EXPORTS: tuple[str, ...] = tuple(
    str(path) for path in (FILES.customers_csv, FILES.audiences, FILES.next_tier,
                           FILES.segment_moves, FILES.growth_accessibility))

SALT_ENV = "SEGLAB_PII_SALT"


def salt_for(out: Path) -> str:
    """Return the salt for masking: ``$SEGLAB_PII_SALT``, else one kept in the reports folder.

    The same salt gives the same pseudonym to a customer in every run, so masked
    exports can still be compared over time without revealing ids.

    Parameters
    ----------
    out : pathlib.Path
        The reports folder; the salt is stored in ``<out>/.seglab-salt`` (mode 600).

    Returns
    -------
    str
        The salt.
    """
    if os.environ.get(SALT_ENV):
        return os.environ[SALT_ENV]
    path = out / ".seglab-salt"
    if not path.exists():
        out.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(16))
    return path.read_text().strip()


def mask_values(values: pd.Series, salt: str) -> pd.Series:
    """Replace each value with a salted SHA-256 pseudonym (``"id_"`` + 12 hex digits).

    Parameters
    ----------
    values : pandas.Series
        Identifiers or other personal values; missing values stay missing.
    salt : str
        Secret salt.

    Returns
    -------
    pandas.Series
        Pseudonyms, same index.
    """
    def pseudonym(value: object) -> str:
        digest = hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()
        return f"id_{digest[:12]}"

    masked = values.astype("string").map(pseudonym, na_action="ignore")
    return masked.astype("string")


def mask_table(table: pd.DataFrame, salt: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """Return a copy of ``table`` with ``columns`` (those present) masked."""
    masked = table.copy()
    for column in columns:
        if column in masked:
            masked[column] = mask_values(masked[column], salt)
    return masked


def make_shareable(run_dir: Path, private_dir: Path, salt: str,
                   columns: tuple[str, ...] = ("customer_id",)) -> Path:
    """Move individual-level files out of a run folder and leave masked exports.

    The unmasked CSV exports of :data:`MASKED_EXPORTS` (the CRM export, the campaign
    audiences) move to ``private_dir`` with the other private files; a masked copy of
    each stays in the run folder.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run folder to make safe to share.
    private_dir : pathlib.Path
        Where the unmasked files go (keep it inside the analytics team).
    salt : str
        Salt for the pseudonyms.
    columns : tuple of str
        Personal columns to mask in the shared ``customers.csv``.

    Returns
    -------
    pathlib.Path
        The private folder holding the unmasked ``customers.csv`` (the CRM export).
    """
    private_dir.mkdir(parents=True, exist_ok=True)
    shared = {}
    for name in MASKED_EXPORTS:
        if (run_dir / name).exists():
            table = pd.read_csv(run_dir / name, dtype={c: "string" for c in columns})
            shared[name] = mask_table(table, salt, columns)
    for name in dict.fromkeys((*PRIVATE_FILES, *MASKED_EXPORTS)):
        if (run_dir / name).exists():
            shutil.move(str(run_dir / name), str(private_dir / name))
    for name, table in shared.items():
        table.to_csv(run_dir / name, index=False)
    return private_dir
