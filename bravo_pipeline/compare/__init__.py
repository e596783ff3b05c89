"""Compare two exports: every row of every table, matched by primary key, and the transformed campaigns.

Memory grows with the number of rows of one table, never with their size. Each
file is streamed one line (one row) at a time. The older file is indexed as
key → 16-byte digest of the row's text + byte offset of its line; the newer file
is then streamed against that index. A row whose text differs is read again
from the older file by its offset and compared column by column.

Reading (`reading`), diffing rows (`diff`), building the report (`report`) and
rendering it (`render`). No Dagster here: the CLI and the assets both call
`compare_exports` and `render`.
"""

from bravo_pipeline.compare.reading import CompareError
from bravo_pipeline.compare.render import (
    Format,
    changed_tables_markdown,
    default_report_path,
    render,
    write_report,
)
from bravo_pipeline.compare.report import compare_exports, has_changes

__all__ = ["CompareError", "Format", "changed_tables_markdown", "compare_exports", "default_report_path",
           "has_changes", "render", "write_report"]
