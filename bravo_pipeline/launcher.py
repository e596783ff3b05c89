"""The local instance's run launcher: a run the CLI submitted runs in the CLI's process.

Every run goes through the instance's run coordinator and run launcher,
whoever starts it. On the local default instance (`dagster.yaml`) this launcher
does what Dagster's DefaultRunLauncher does (the code server of the UI or the
daemon starts a run worker process) except for a run that the `bravo-pipeline`
process created and submitted itself: that one executes in the CLI's process,
which has the code location loaded already, so a CLI run does not pay for a
second interpreter. On the deploy instance (`deploy/dagster.yaml`) runs are
queued and the daemon launches them with whatever launcher is configured there.
"""

from __future__ import annotations

from dagster._core.launcher import LaunchRunContext
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher

_hosted: set[str] = set()


def host_here(run_id: str) -> None:
    """Execute `run_id` in this process when this process's launcher is asked to launch it."""
    _hosted.add(run_id)


class LocalRunLauncher(DefaultRunLauncher):
    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if run.run_id not in _hosted:
            super().launch_run(context)
            return
        _hosted.discard(run.run_id)
        from dagster._core.definitions.reconstruct import ReconstructableJob
        from dagster._core.execution.api import execute_run
        from dagster._utils.hosted_user_process import recon_job_from_origin

        # Dagster keeps the last reconstructed job per process; a long-lived process (the tests) must
        # load the definitions again, so that they read the settings of now.
        ReconstructableJob.get_definition.cache_clear()
        ReconstructableJob.get_repository_definition.cache_clear()
        execute_run(recon_job_from_origin(run.job_code_origin), run, self._instance)  # type: ignore[arg-type]
