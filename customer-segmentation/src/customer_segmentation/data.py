"""Parse the raw purchases into canonical transactions: customer_id, date, quantity, amount.

Formats (``data.format``):
- ``cdnow``: CDNOW_master.txt (Fader and Hardie): whitespace-separated, header
  ``customer_id date number_of_cds dollar_value``, dates as YYYYMMDD. One row per purchase.
- ``online_retail``: UCI Online Retail (``Online Retail.xlsx``, one row per invoice line). Lines of
  cancelled invoices (InvoiceNo starting with "C") and lines without a CustomerID are dropped, as
  are lines with a quantity or price of zero or below; the rest are summed per invoice, so one row
  is one purchase (date of the invoice, items, amount = quantity x unit price).
- ``csv``: the canonical columns already (e.g. data/sample/cdnow_sample.csv).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

COLUMNS = ["customer_id", "date", "quantity", "amount"]


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Typed canonical transactions, sorted by customer and date."""
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str).str.strip(),
            "date": pd.to_datetime(frame["date"]).dt.normalize(),
            "quantity": pd.to_numeric(frame["quantity"], errors="raise").astype("int64"),
            "amount": pd.to_numeric(frame["amount"], errors="raise").astype(float),
        }
    )
    return out.sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)


def parse_cdnow(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    expected = {"customer_id", "date", "number_of_cds", "dollar_value"}
    if set(frame.columns) != expected:
        raise ValueError(f"{path.name}: columns {sorted(frame.columns)}, expected {sorted(expected)}")
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return canonical(frame.rename(columns={"number_of_cds": "quantity", "dollar_value": "amount"}))


def online_retail_transactions(lines: pd.DataFrame) -> pd.DataFrame:
    """Invoice lines -> one purchase per invoice (pure; see the module docstring)."""
    keep = (
        lines["CustomerID"].notna()
        & ~lines["InvoiceNo"].astype(str).str.upper().str.startswith("C")
        & (lines["Quantity"] > 0)
        & (lines["UnitPrice"] > 0)
    )
    kept = lines.loc[keep].assign(
        customer_id=lambda f: f["CustomerID"].astype("int64").astype(str),
        amount=lambda f: f["Quantity"] * f["UnitPrice"],
        date=lambda f: pd.to_datetime(f["InvoiceDate"]).dt.normalize(),
    )
    invoices = kept.groupby(["customer_id", "InvoiceNo"], as_index=False).agg(
        date=("date", "min"), quantity=("Quantity", "sum"), amount=("amount", "sum")
    )
    return canonical(invoices)


def parse_raw(path: Path, cfg: DictConfig) -> pd.DataFrame:
    if cfg.format == "cdnow":
        return parse_cdnow(path)
    if cfg.format == "online_retail":
        return online_retail_transactions(pd.read_excel(path, dtype={"InvoiceNo": str, "StockCode": str}))
    if cfg.format == "csv":
        frame = pd.read_csv(path, dtype={"customer_id": str})
        missing = sorted(set(COLUMNS) - set(frame.columns))
        if missing:
            raise ValueError(f"{path.name} lacks column(s) {missing}; expected {COLUMNS}")
        return canonical(frame)
    raise ValueError(f"data.format={cfg.format!r} is not one of cdnow, online_retail, csv")
