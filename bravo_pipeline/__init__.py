"""bravo-pipeline: timestamped exports of the media_tool database as Dagster assets."""

import os
import warnings

# Partitioned asset checks are a preview feature of the pinned Dagster; we use them on purpose, so the
# warning would only be noise on every code load (CLI, UI, run workers).
warnings.filterwarnings("ignore", message=r".* is currently in (preview|beta)")

# polars allocates through jemalloc, which keeps freed pages for 10 s by default: the transform's
# short-lived intermediate frames then pile up in the resident memory of the process (about 45 MB
# at scale 1). Set before polars is first imported; a value in the environment wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
