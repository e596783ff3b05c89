"""Readers never see a half-promoted database; the registry survives concurrent writers."""

import json
import subprocess
import sys
from pathlib import Path

from bravo_pipeline.mongo.registry import Registry, registry_entry
from bravo_pipeline.mongo.store import open_embedded
from bravo_pipeline.mongo.versions import load_version, promote_version

TS1, TS2 = "20250622-072114", "20250623-072114"

READER = """
import json, sys, time
from pathlib import Path
import litemongo
client = litemongo.connect(sys.argv[1])
observations, deadline = [], time.monotonic() + float(sys.argv[2])
Path(sys.argv[3]).touch()
while time.monotonic() < deadline:
    documents = list(client["mediatool_v2"]["campaigns"].find({}, {"exportTimestamp": 1}))
    observations.append([len(documents), sorted({d["exportTimestamp"] for d in documents})])
print(json.dumps(observations))
"""


def test_a_reader_polling_during_promotion_sees_only_complete_versions(
    tmp_path: Path, make_export
) -> None:
    store_path = tmp_path / "mongodb"
    store = open_embedded(store_path)
    load_version(store, make_export(TS1, 300), TS1)
    load_version(store, make_export(TS2, 500), TS2)
    promote_version(store, TS1, "mediatool_v2")

    ready = tmp_path / "reader-ready"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(store_path), "8", str(ready)],
        stdout=subprocess.PIPE, text=True,
    )
    while not ready.exists():
        pass
    for _ in range(3):
        promote_version(store, TS2, "mediatool_v2")
        promote_version(store, TS1, "mediatool_v2")
    store.close()
    observations = json.loads(reader.communicate(timeout=60)[0])

    seen = {(count, tuple(versions)) for count, versions in observations}
    assert seen <= {(300, (TS1,)), (500, (TS2,))}, seen
    assert len(observations) > 10


APPENDER = """
import sys
from pathlib import Path
from bravo_pipeline.mongo.registry import Registry, registry_entry
registry = Registry(Path(sys.argv[1]))
for n in range(int(sys.argv[2])):
    registry.append(registry_entry("20250622-072114", "loaded", database="mediatool_20250622-072114",
                                   collections={"campaigns": n}, source_postgres_db="media_tool",
                                   notes=f"{sys.argv[3]}-{n}"))
"""


def test_registry_stays_valid_with_many_concurrent_writers(tmp_path: Path) -> None:
    writers = [
        subprocess.Popen([sys.executable, "-c", APPENDER, str(tmp_path), "25", f"w{w}"])
        for w in range(8)
    ]
    assert all(writer.wait(timeout=120) == 0 for writer in writers)
    entries = json.loads((tmp_path / "mongodb-versions.json").read_text())
    assert len(entries) == 200
    assert len({entry["notes"] for entry in entries}) == 200
    assert entries[0]["raw_export"] == "raw/20250622-072114"


def test_registry_tracks_loaded_dropped_and_current(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    for ts, action in [(TS1, "loaded"), (TS2, "loaded"), (TS1, "promoted"), (TS2, "dropped")]:
        registry.append(registry_entry(ts, action, database=f"mediatool_{ts}", collections={},
                                       source_postgres_db=None))
    assert registry.loaded_versions() == {TS1}
    assert registry.current_version() == TS1
