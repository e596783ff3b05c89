"""The UI in a real headless Chromium (Debian's), driven by Playwright: the user's three paths.

A new export from the UI (the sensor's "Preview tick result → Apply requests"),
lineage and metadata of an export, re-materializing the transform of an old key;
and what a bad key leaves behind (nothing).
"""

import json
import shutil
import time
from pathlib import Path

import pytest

from bravo_pipeline_tests.conftest import repo_root

from .conftest import graphql

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = repo_root() / "bravo_pipeline_tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]
LOCATION = "bravo_pipeline"
VERSION_WARNING = "may be a different version"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="NO CHROMIUM: the browser test did not run (make test installs Debian's chromium with apt-get)",
)

RUNS = """query($job: String!) { runsOrError(filter: {pipelineName: $job}) { ... on Runs { results {
  runId status tags { key value } } } } }"""
CHECK_NAMES = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) { ... on AssetNode {
  assetChecksOrError { ... on AssetChecks { checks { name } } } } } }"""
CHECK_EXECUTIONS = """query($path: [String!]!, $name: String!) {
  assetCheckExecutions(assetKey: {path: $path}, checkName: $name, limit: 20) { runId status } }"""
MATERIALIZATIONS = """query($path: [String!]!, $partition: String!) { assetOrError(assetKey: {path: $path}) {
  ... on Asset { assetMaterializations(partitions: [$partition], limit: 20) { runId partition } } } }"""
PARTITION_KEYS = """{ assetNodeOrError(assetKey: {path: ["transformed", "campaigns"]}) {
  ... on AssetNode { partitionKeys } } }"""
ADD_KEY = """mutation($key: String!) { addDynamicPartition(repositorySelector: {
  repositoryLocationName: "bravo_pipeline", repositoryName: "__repository__"},
  partitionsDefName: "export_timestamp", partitionKey: $key) { __typename } }"""
LAUNCH = """mutation($key: String!) { launchRun(executionParams: {selector: {repositoryLocationName: "bravo_pipeline",
  repositoryName: "__repository__", jobName: "export_job"}, mode: "default", runConfigData: "{}",
  executionMetadata: {tags: [{key: "dagster/partition", value: $key}]}}) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        yield context.new_page()
        browser.close()


def _skip_community_dialog(page) -> None:
    """The first visit opens "Join the Dagster community" a moment after the page settles."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=10_000)
    except PlaywrightTimeout:
        return
    skip.click()
    page.locator(".bp5-overlay-backdrop").first.wait_for(state="detached", timeout=15_000)


def _runs(url: str, job: str) -> list[dict]:
    return graphql(url, RUNS, {"job": job})["runsOrError"]["results"]


def _partition_of(run: dict) -> str | None:
    return next((t["value"] for t in run["tags"] if t["key"] == "dagster/partition"), None)


def _wait_for_run(url: str, jobs: tuple[str, ...], known: set[str], timeout: float = 300) -> dict:
    """The first run of one of `jobs` not in `known`, once it has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in (run for job in jobs for run in _runs(url, job)):
            if run["runId"] not in known and run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return run
        time.sleep(1)
    raise AssertionError(f"no new {' or '.join(jobs)} run finished within {timeout}s")


def _check_statuses(url: str, path: list[str], run_id: str) -> dict[str, str]:
    """The status of each check of the asset `path` in run `run_id` (checks it did not run are left out)."""
    node = graphql(url, CHECK_NAMES, {"path": path})["assetNodeOrError"]
    found = {}
    for check in node["assetChecksOrError"]["checks"]:
        executions = graphql(url, CHECK_EXECUTIONS, {"path": path, "name": check["name"]})["assetCheckExecutions"]
        for execution in executions:
            if execution["runId"] == run_id:
                found[check["name"]] = execution["status"]
    return found


def test_asset_graph_and_partition_page_show_assets_and_row_counts(webserver: dict, page) -> None:
    url, ts, exports = webserver["url"], webserver["ts"], webserver["exports"]
    page.goto(f"{url}/asset-groups", wait_until="networkidle")
    _skip_community_dialog(page)
    for group in ("source", "transformed", "mongodb"):
        page.locator("#asset-graph-sidebar, body").get_by_text(group, exact=True).first.dblclick()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)
    text = page.inner_text("body")
    for name in ("campaigns", "version", "current", "media_tool_db"):
        assert name in text, name

    count = json.loads((exports / "raw" / ts / "export-summary.json").read_text())["tables"]["campaigns"]["count"]
    page.goto(f"{url}/assets/raw/campaigns?partition={ts}", wait_until="networkidle")
    page.wait_for_selector(f"text={ts}", timeout=60_000)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(ARTIFACTS / "raw-campaigns-partition.png"), full_page=True)
    body = page.inner_text("body")
    assert ts in body
    assert "raw/<ts>/campaigns.json" in body  # descriptions render placeholders, not swallowed as HTML
    assert f"{count:,}" in body or str(count) in body, body[-2000:]
    assert Path(ARTIFACTS / "raw-campaigns-partition.png").stat().st_size > 10_000


def test_a_new_export_from_the_ui_is_one_path_with_every_check_green(webserver: dict, page) -> None:
    url, ts, exports = webserver["url"], webserver["ts"], webserver["exports"]
    known = {run["runId"] for run in _runs(url, "export_job")}
    [cli_run] = [run for run in _runs(url, "export_job") if _partition_of(run) == ts]

    page.goto(f"{url}/locations/{LOCATION}/sensors/scheduled_export_sensor", wait_until="networkidle")
    _skip_community_dialog(page)
    page.get_by_role("button", name="Preview tick result").click()
    page.get_by_role("button", name="Continue").click()
    apply = page.get_by_role("button", name="Apply requests & commit tick result")
    apply.wait_for(timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "new-export-from-the-ui.png"))
    apply.click()

    run = _wait_for_run(url, ("export_job",), known)
    new_ts = _partition_of(run)
    assert run["status"] == "SUCCESS", run
    assert new_ts and new_ts != ts and (exports / "raw" / new_ts / "export-summary.json").exists()
    assert (exports / "transformed" / new_ts / "transformation-summary.json").exists()
    for path in (["raw", "export_summary"], ["transformed", "campaigns"], ["mongodb", "version"]):
        statuses = _check_statuses(url, path, run["runId"])
        assert statuses and set(statuses.values()) == {"SUCCEEDED"}, (path, statuses)

    # the CLI's run and the UI's run are runs of the same job, listed on its page, with no version warning
    page.goto(f"{url}/locations/{LOCATION}/jobs/export_job/runs", wait_until="networkidle")
    page.wait_for_selector(f"text={run['runId'][:8]}", timeout=60_000)
    body = page.inner_text("body")
    assert cli_run["runId"][:8] in body and run["runId"][:8] in body
    page.goto(f"{url}/runs/{cli_run['runId']}", wait_until="networkidle")
    page.wait_for_selector("text=RUN_SUCCESS", timeout=60_000)
    assert VERSION_WARNING not in page.inner_text("body")


def test_rematerializing_the_transform_of_an_old_key_from_its_asset_page(webserver: dict, page) -> None:
    url, ts = webserver["url"], webserver["ts"]
    path = ["transformed", "campaigns"]
    before = graphql(url, MATERIALIZATIONS, {"path": path, "partition": ts})["assetOrError"]["assetMaterializations"]
    jobs = ("__ASSET_JOB", "transform_job")  # the asset page launches an asset job
    known = {run["runId"] for job in jobs for run in _runs(url, job)}

    page.goto(f"{url}/assets/transformed/campaigns", wait_until="networkidle")
    _skip_community_dialog(page)
    page.locator("button", has_text="Materialize").first.click()
    page.get_by_text("Select a partition or create one").click()
    page.keyboard.type(ts)
    page.locator(f".bp5-portal [title='{ts}']").first.click()
    page.keyboard.press("Escape")
    launch = page.get_by_role("button", name="Launch 1 run")
    launch.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "rematerialize-transform.png"))
    launch.click()

    run = _wait_for_run(url, jobs, known)  # the transform's checks run after its materialization
    assert run["status"] == "SUCCESS", run
    after = graphql(url, MATERIALIZATIONS, {"path": path, "partition": ts})["assetOrError"]["assetMaterializations"]
    assert len(after) > len(before), "the transform of the old key was not re-materialized"
    run_id = after[0]["runId"]
    assert run_id == run["runId"] and after[0]["partition"] == ts
    assert set(_check_statuses(url, path, run_id).values()) == {"SUCCEEDED"}


def test_a_bad_key_fails_its_run_and_leaves_no_partition(webserver: dict) -> None:
    url = webserver["url"]
    for key in ("foo", "20251399-999999"):
        known = {run["runId"] for run in _runs(url, "export_job")}
        assert graphql(url, ADD_KEY, {"key": key})["addDynamicPartition"]["__typename"] == "AddDynamicPartitionSuccess"
        launched = graphql(url, LAUNCH, {"key": key})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run = _wait_for_run(url, ("export_job",), known)
        assert run["status"] == "FAILURE"
        keys = graphql(url, PARTITION_KEYS)["assetNodeOrError"]["partitionKeys"]
        assert key not in keys, keys
