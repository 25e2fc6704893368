"""Subprocess for the kill -9 test: writes requests one transaction each, prints each count."""

from __future__ import annotations

import sys

from nova.store import RequestRecord, RunStore

url, run_id = sys.argv[1], sys.argv[2]
store = RunStore(url)
store.start_run("quality", run_id=run_id)
i = 0
while True:
    # Large rows make the kill land inside a write more often.
    store.add_request(
        run_id, RequestRecord(candidate="a", case_id=f"c{i}", request={"i": i}, text="x" * 20_000)
    )
    i += 1
    print(i, flush=True)
