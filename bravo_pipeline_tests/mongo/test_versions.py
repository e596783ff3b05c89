"""Loading and promoting MongoDB versions on both backends."""

import json
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from bson.decimal128 import Decimal128

from bravo_pipeline.integrity import IntegrityError
from bravo_pipeline.mongo.store import MongoStore, StoreError, connect_server, open_embedded
from bravo_pipeline.mongo.versions import STAGING_PREFIX, load_version, promote_version

from .conftest import campaign, write_transformed

TS1, TS2 = "20250622-072114", "20250623-072114"


def test_decimals_and_dates_are_exact_bson(store: MongoStore, make_export) -> None:
    folder = make_export(TS1, 3, amount="1234567.89")
    result = load_version(store, folder, TS1)
    assert result.database == "mediatool_20250622-072114" and result.collections == {"campaigns": 3}
    assert result.indexes == ["_id_", "accountId_1", "campaignNumber_1", "dates.start_1", "stage_1",
                              "team.accountManager.zohoUserId_1"]
    [document] = [b for batch in store.iter_batches(result.database, "campaigns", 10) for b in batch][:1]
    assert document["price"]["targetAmount"] == Decimal128("1234567.89")
    assert document["price"]["expectedRevenue"] == Decimal128("-0.01")
    assert document["price"]["proposedBudget"] is None
    line_item = document["strategies"][0]["lineItems"][0]
    assert line_item["price"] == Decimal128("0.123456")
    assert line_item["targetMargin"] == Decimal128("0.350000")
    assert str(line_item["targetMargin"]) == "0.350000"  # scale kept
    # BSON dates hold milliseconds: microseconds are truncated
    assert document["dates"]["start"] == datetime(2025, 3, 1, 5, 0, 0, 123000, tzinfo=UTC)
    assert document["name"] == "Campaign 0 – Café"
    assert store.count_and_decimal_sum(result.database, "campaigns", "price.targetAmount") == (
        3, Decimal("3703703.67"))
    assert result.state.target_amount_sum == "3703703.67" and result.state.version == TS1


def test_reloading_replaces_never_duplicates(store: MongoStore, make_export, tmp_path: Path) -> None:
    folder = make_export(TS1, 5)
    load_version(store, folder, TS1)
    load_version(store, folder, TS1)
    assert store.exact_count("mediatool_20250622-072114", "campaigns") == 5
    smaller = write_transformed(tmp_path / "other", TS1, [campaign(TS1, n) for n in range(2)])
    load_version(store, smaller, TS1)
    assert store.exact_count("mediatool_20250622-072114", "campaigns") == 2


def test_a_rejected_document_is_named_and_the_previous_version_stays(
    store: MongoStore, make_export, tmp_path: Path
) -> None:
    load_version(store, make_export(TS1, 4), TS1)
    documents = [campaign(TS1, n) for n in range(6)]
    documents[5]["_id"] = documents[2]["_id"]  # the server refuses a duplicate _id
    bad = write_transformed(tmp_path / "bad", TS1, documents)
    with pytest.raises(StoreError, match=f"document {documents[2]['_id']} rejected by MongoDB"):
        load_version(store, bad, TS1)
    assert store.exact_count("mediatool_20250622-072114", "campaigns") == 4


def _same_number(documents: list[dict]) -> None:
    documents[5]["campaignNumber"] = documents[2]["campaignNumber"]


def _both_null(documents: list[dict]) -> None:
    documents[2]["campaignNumber"] = documents[5]["campaignNumber"] = None


def _both_missing(documents: list[dict]) -> None:
    del documents[2]["campaignNumber"], documents[5]["campaignNumber"]


@pytest.mark.parametrize("break_it", [_same_number, _both_null, _both_missing], ids=["same", "null", "missing"])
def test_a_repeated_campaign_number_is_refused_and_the_previous_version_stays(
    store: MongoStore, make_export, tmp_path: Path, break_it
) -> None:
    database = "mediatool_20250622-072114"
    load_version(store, make_export(TS1, 4), TS1)
    documents = [campaign(TS1, n) for n in range(6)]
    break_it(documents)  # a unique index: a server refuses two equal values, null and missing alike
    bad = write_transformed(tmp_path / "bad", TS1, documents)
    with pytest.raises(StoreError, match=r"rejected by MongoDB: .*campaignNumber"):
        load_version(store, bad, TS1)
    assert store.exact_count(database, "campaigns") == 4
    assert [name for name in store.collection_names(database) if name.startswith(STAGING_PREFIX)] == []
    good = write_transformed(tmp_path / "good", TS1, [campaign(TS1, n) for n in range(5)])
    result = load_version(store, good, TS1)
    assert result.collections == {"campaigns": 5} and "campaignNumber_1" in result.indexes


def test_the_embedded_store_refuses_a_document_over_16_mib_like_a_server(tmp_path: Path, make_export) -> None:
    store = open_embedded(tmp_path / "mongodb")
    try:
        load_version(store, make_export(TS1, 4), TS1)
        documents = [campaign(TS1, n) for n in range(6)]
        documents[3]["name"] = "x" * (16 * 1024 * 1024)  # the name alone fills the limit
        bad = write_transformed(tmp_path / "bad", TS1, documents)
        with pytest.raises(StoreError, match=rf"document {documents[3]['_id']} rejected by MongoDB: "
                                             r"\d+ bytes is over the 16 MB limit"):
            load_version(store, bad, TS1)
        assert store.exact_count("mediatool_20250622-072114", "campaigns") == 4
        assert store.collection_names("mediatool_20250622-072114") == ["bravo_version", "campaigns"]
    finally:
        store.close()


def test_count_is_what_the_collection_holds_against_the_summary(store: MongoStore, tmp_path: Path) -> None:
    folder = write_transformed(tmp_path, TS1, [campaign(TS1, n) for n in range(3)], total=4)
    with pytest.raises(StoreError, match="the load holds 3 documents, expected 4"):
        load_version(store, folder, TS1)
    assert "mediatool_20250622-072114" not in store.database_names() or store.exact_count(
        "mediatool_20250622-072114", "campaigns") == 0
    assert not [n for n in store.collection_names("mediatool_20250622-072114") if "staging" in n]


def test_a_tampered_campaigns_file_is_refused_and_the_loaded_version_stays(
    store: MongoStore, make_export
) -> None:
    folder = make_export(TS1, 3)
    load_version(store, folder, TS1)
    path = folder / "campaigns.json"
    path.write_bytes(path.read_bytes().replace(b'"100.00"', b'"999.00"', 1))  # same size, other money
    with pytest.raises(IntegrityError) as caught:
        load_version(store, folder, TS1)
    assert str(path) in str(caught.value) and "the summary says" in str(caught.value)
    assert store.count_and_decimal_sum("mediatool_20250622-072114", "campaigns", "price.targetAmount") == (
        3, Decimal("300.00"))
    edited = json.loads((folder / "transformation-summary.json").read_text())
    edited["totalCampaigns"] = 2
    (folder / "transformation-summary.json").write_text(json.dumps(edited))
    with pytest.raises(IntegrityError, match="summarySha256 says"):
        load_version(store, folder, TS1)


def test_missing_transformed_export_is_named(store: MongoStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=f"transformed export {TS1} is incomplete or missing"):
        load_version(store, tmp_path / "transformed" / TS1, TS1)


def test_promote_copies_exactly_and_refuses_unknown_versions(store: MongoStore, make_export) -> None:
    load_version(store, make_export(TS1, 3), TS1)
    load_version(store, make_export(TS2, 5), TS2)
    promote_version(store, TS2, "mediatool_v2")
    assert store.exact_count("mediatool_v2", "campaigns") == 5
    promote_version(store, TS1, "mediatool_v2")
    batches = list(store.iter_batches("mediatool_v2", "campaigns", 100))
    assert {d["exportTimestamp"] for d in batches[0]} == {TS1} and len(batches[0]) == 3
    assert "campaignNumber_1" in store.index_names("mediatool_v2", "campaigns")

    with pytest.raises(StoreError, match="mediatool_20200101-000000 does not exist"):
        promote_version(store, "20200101-000000", "mediatool_v2")
    assert store.exact_count("mediatool_v2", "campaigns") == 3


def test_unreachable_server_fails_fast_naming_host_and_port() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        connect_server("mongodb://app:secret@127.0.0.1:9/admin")
    assert str(raised.value) == "cannot reach MongoDB at 127.0.0.1:9"
    assert time.monotonic() - started < 10


def test_decimal128_bits_are_those_bson_makes_from_a_decimal() -> None:
    import random

    from bravo_pipeline.mongo.documents import decimal128

    generator = random.Random(17)
    cases = ["0", "-0", "0.00", "-0.000000", "12500.00", "-1234567.89", "9" * 34, "9" * 35, "1" + "0" * 33 + ".5",
             "1E+5", "NaN", "-Infinity", ".5", "5.", "+5", "0." + "0" * 40 + "1", "١٢", "12345678901234567890.123"]
    for _ in range(20_000):
        whole = str(generator.randrange(10 ** generator.randrange(1, 22)))
        fraction = "".join(generator.choice("0123456789") for _ in range(generator.randrange(8)))
        cases.append(("-" if generator.random() < 0.3 else "") + whole + ("." + fraction if fraction else ""))
    def bits(make, text: str) -> object:
        try:
            return make(text).bid
        except ArithmeticError as error:  # 35 digits do not fit: both refuse
            return type(error)

    for text in cases:
        assert bits(decimal128, text) == bits(lambda t: Decimal128(Decimal(t)), text), text


def test_decimal_of_reads_back_exactly_what_bson_reads() -> None:
    """The load's sum and the check's sum read each Decimal128 through decimal_of: the same sign, digits
    and exponent as bson's to_decimal, for every form (NaN, infinity, -0, extremes, non-canonical bits)."""
    import random
    import struct

    from bravo_pipeline.mongo.documents import decimal128, decimal_of

    generator = random.Random(23)
    values = [Decimal128(text) for text in ("NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "0", "-0", "0E+6111",
                                            "1E-6176", "-" + "9" * 34, "9" * 34 + "E+6111", "1E+6144")]
    values += [Decimal128.from_bid(struct.pack("<QQ", low, high)) for low, high in (
        ((1 << 64) - 1, (1 << 49) - 1),  # 2**113 - 1: more than 34 digits, read as 0
        (0, (0b11 << 61) | (5 << 47)),  # the combination form with an exponent, read as 0
    )]
    for _ in range(20_000):
        whole = str(generator.randrange(10 ** generator.randrange(1, 22)))
        fraction = "".join(generator.choice("0123456789") for _ in range(generator.randrange(8)))
        sign = "-" if generator.random() < 0.3 else ""
        values.append(decimal128(sign + whole + ("." + fraction if fraction else "")))
    for value in values:
        assert decimal_of(value).as_tuple() == value.to_decimal().as_tuple(), value.bid.hex()
