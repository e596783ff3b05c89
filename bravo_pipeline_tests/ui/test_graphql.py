"""What users see in the UI, checked through the webserver's GraphQL API."""

import json

from .conftest import graphql

GRAPH = """{ assetNodes { assetKey { path } groupName kinds description
  dependencyKeys { path } owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } } } }"""

ASSET = """query($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
    partitionKeys
    assetChecksOrError { ... on AssetChecks { checks { name
      executionForLatestMaterialization { status evaluation { severity } } } } } } }
  assetOrError(assetKey: {path: $path}) { ... on Asset {
    assetMaterializations(limit: 1) { partition metadataEntries { label
      ... on IntMetadataEntry { intValue } ... on PathMetadataEntry { path } } } } } }"""


def _node(url: str, *path: str) -> dict:
    return graphql(url, ASSET, {"path": list(path)})


def test_asset_graph_lineage_groups_and_kinds(webserver: dict) -> None:
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(webserver["url"], GRAPH)["assetNodes"]}
    deps = {key: {"/".join(d["path"]) for d in node["dependencyKeys"]} for key, node in nodes.items()}
    assert {f"raw/{t}" for t in ("campaigns", "line_items", "users", "strategies")} <= deps["transformed/campaigns"]
    assert "transformed/campaigns" in deps["mongodb/version"]
    assert "mongodb/version" in deps["mongodb/current"]
    assert "archive/s3" not in nodes  # no bucket configured: no archive asset to count as missing
    assert "source/media_tool_db" in deps["raw/campaigns"]  # an external asset: never "missing upstream"
    groups = {key: node["groupName"] for key, node in nodes.items()}
    assert groups["raw/campaigns"] == "raw" and groups["transformed/campaigns"] == "transformed"
    assert groups["mongodb/current"] == "mongodb" and groups["source/media_tool_db"] == "source"
    assert groups["reports/changes"] == "reports"
    assert {"postgres", "json"} <= set(nodes["raw/campaigns"]["kinds"])
    assert "mongodb" in nodes["mongodb/version"]["kinds"]
    for key, node in nodes.items():
        assert node["description"] and len(node["description"]) > 30, key
        assert node["owners"], key


def test_partition_metadata_and_check_results(webserver: dict) -> None:
    ts, exports = webserver["ts"], webserver["exports"]
    summary = json.loads((exports / "raw" / ts / "export-summary.json").read_text())
    raw = _node(webserver["url"], "raw", "campaigns")
    assert raw["assetNodeOrError"]["partitionKeys"] == [ts]
    [materialization] = raw["assetOrError"]["assetMaterializations"]
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    assert materialization["partition"] == ts
    assert entries["dagster/row_count"]["intValue"] == summary["tables"]["campaigns"]["count"]
    assert entries["path"]["path"] == str(exports / "raw" / ts / "campaigns.json")

    transformed = _node(webserver["url"], "transformed", "campaigns")
    checks = {c["name"]: c for c in transformed["assetNodeOrError"]["assetChecksOrError"]["checks"]}
    execution = checks["transform_conservation"]["executionForLatestMaterialization"]
    assert execution["status"] == "SUCCEEDED"
    summary_checks = _node(webserver["url"], "raw", "export_summary")["assetNodeOrError"]["assetChecksOrError"]
    names = {c["name"] for c in summary_checks["checks"]}
    assert names == {"raw_completeness", "referential_integrity", "schema_drift", "export_verified"}
