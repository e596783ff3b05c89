"""Small transformed exports written by hand, and both MongoDB backends."""

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import mongomock
import pymongo
import pytest

from bravo_pipeline.integrity import seal
from bravo_pipeline.mongo.store import MongoStore, connect_server, open_embedded


def campaign(ts: str, number: int, amount: str = "100.00") -> dict:
    return {
        "_id": f"24615040000000{number:05d}",
        "campaignNumber": f"CN-{number}",
        "name": f"Campaign {number} – Café",
        "stage": "Live",
        "accountId": "2461504000000765432",
        "price": {"targetAmount": amount, "proposedBudget": None, "expectedRevenue": "-0.01",
                  "currency": "USD"},
        "team": {"owner": None, "accountManager": {"zohoUserId": "2461504000000111001"},
                 "mediaTraders": []},
        "dates": {"start": "2025-03-01T05:00:00.123456Z", "end": None, "durationDays": None,
                  "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-01-02T00:00:00Z",
                  "modifiedTime": None},
        "strategies": [{"_id": "s-1", "name": "S", "createdAt": "2025-01-01T00:00:00Z", "updatedAt": None,
                        "lineItems": [{"_id": "l-1", "price": "0.123456", "unitPrice": None,
                                       "targetMargin": "0.350000", "startDate": None, "endDate": None,
                                       "createdAt": "2025-01-01T00:00:00Z", "updatedAt": None}]}],
        "metrics": {"strategyCount": 1, "lineItemCount": 1, "lineItemPriceTotal": "0.123456",
                    "mediaTraderCount": 0},
        "exportTimestamp": ts,
    }


def write_transformed(root: Path, ts: str, documents: list[dict], total: int | None = None) -> Path:
    """A transformed folder as the transform writes it: campaigns.json and a sealed summary."""
    folder = root / "transformed" / ts
    folder.mkdir(parents=True)
    lines = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in documents]
    body = ("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8")
    (folder / "campaigns.json").write_bytes(body)
    summary = seal({"exportTimestamp": ts, "totalCampaigns": len(documents) if total is None else total,
                    "outputFile": "campaigns.json", "sha256": hashlib.sha256(body).hexdigest(),
                    "size": len(body)})
    (folder / "transformation-summary.json").write_text(json.dumps(summary))
    return folder


@pytest.fixture
def make_export(tmp_path: Path) -> Callable[..., Path]:
    def make(ts: str, count: int, amount: str = "100.00") -> Path:
        return write_transformed(tmp_path / "exports", ts, [campaign(ts, n, amount) for n in range(count)])

    return make


@pytest.fixture(params=["embedded", "pymongo"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MongoStore]:
    """The embedded litemongo store for real, and the pymongo path with mongomock at the client."""
    if request.param == "embedded":
        opened = open_embedded(tmp_path / "mongodb")
    else:
        monkeypatch.setattr(pymongo, "MongoClient", mongomock.MongoClient)
        opened = connect_server("mongodb://app:secret@mongo.example:27017/admin")
    yield opened
    opened.close()
