"""stack.audit: the "no webhook lost" check reads the listener's logfmt lines
and the tick's decision records."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from stack import audit  # noqa: E402

LOG = """\
ts=2026-12-04T20:00:00Z level=info event=listen.started addr=127.0.0.1:8090
ts=2026-12-04T20:00:01Z level=info event=webhook.accepted route=up source=alertmanager alerts=1 ids=0001-a,0002-b
ts=2026-12-04T20:00:02Z level=warn event=webhook.rejected route=up reason="body is not JSON: expected value" ids=9999-x
ts=2026-12-04T20:00:03Z level=info event=webhook.accepted route=down msg="a \\"quoted\\" word" ids=0003-c
"""


def test_logfmt_handles_quotes_and_escapes():
    f = audit.logfmt('event=x msg="a \\"b\\" c=d" ids=1,2 empty=')
    assert f == {"event": "x", "msg": 'a "b" c=d', "ids": "1,2", "empty": ""}


def test_only_accepted_webhooks_count(tmp_path):
    log = tmp_path / "listen.log"
    log.write_text(LOG)
    assert audit.accepted_ids(log) == ["0001-a", "0002-b", "0003-c"]


def test_an_id_no_decision_consumed_is_lost(tmp_path):
    log = tmp_path / "listen.log"
    log.write_text(LOG)
    state = tmp_path / "state"
    state.mkdir()
    records = [{"at": "t1", "action": "scale_up", "consumed": ["0001-a", "0002-b"]}, {"at": "t2", "action": "none", "consumed": []}]
    (state / "decisions.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n{torn")
    read = audit.decisions(state)
    assert read == records, "a torn last line is skipped, the rest kept"
    accepted, lost = audit.lost_webhooks(log, read)
    assert accepted == ["0001-a", "0002-b", "0003-c"] and lost == ["0003-c"]
    later = audit.merge(read, [records[1], {"at": "t3", "action": "scale_down", "consumed": ["0003-c"]}])
    assert len(later) == 3
    assert audit.lost_webhooks(log, later)[1] == []


def test_missing_files_mean_nothing_seen(tmp_path):
    assert audit.accepted_ids(tmp_path / "nope.log") == []
    assert audit.decisions(tmp_path) == []
