"""bravo-pipeline: timestamped exports of the media_tool database as Dagster assets."""

import warnings

# Partitioned asset checks are a preview feature of the pinned Dagster; we use them on purpose, so the
# warning would only be noise on every code load (CLI, UI, run workers).
warnings.filterwarnings("ignore", message=r".* is currently in (preview|beta)")
