"""The "no webhook lost" audit trail and the tick's decision records.

The listener logs `event=webhook.accepted ... ids=<id,id>` for every webhook
it acknowledged; every decisions.jsonl record lists in `consumed` the marker
ids that tick removed. An acknowledged id that no decision consumed is lost.
"""

import json
import re
from pathlib import Path

# logfmt: key=value or key="quoted value" (with \" escapes).
_PAIR = re.compile(r'(\w[\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')


def logfmt(line: str) -> dict:
    pairs = {}
    for key, value in _PAIR.findall(line):
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        pairs[key] = value
    return pairs


def accepted_ids(listener_log: Path) -> list[str]:
    """Every marker id the listener acknowledged, in log order."""
    ids = []
    if not Path(listener_log).exists():
        return ids
    for line in Path(listener_log).read_text(errors="replace").splitlines():
        fields = logfmt(line)
        if fields.get("event") == "webhook.accepted":
            ids.extend(i for i in fields.get("ids", "").split(",") if i)
    return ids


def decisions(state_dir: Path) -> list[dict]:
    """The tick's decision records, oldest first; a torn last line is skipped."""
    path = Path(state_dir) / "decisions.jsonl"
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    return records


def merge(known: list[dict], latest: list[dict]) -> list[dict]:
    """Add the records of `latest` not yet in `known`: the file keeps only the
    last records, so a long run reads it as it goes and keeps the union."""
    seen = {json.dumps(r, sort_keys=True) for r in known}
    return known + [r for r in latest if json.dumps(r, sort_keys=True) not in seen]


def consumed_ids(records: list[dict]) -> set[str]:
    return {i for r in records for i in r.get("consumed") or []}


def lost_webhooks(listener_log: Path, records: list[dict]) -> tuple[list[str], list[str]]:
    """(acknowledged ids, those that no decision record consumed)."""
    accepted = accepted_ids(listener_log)
    consumed = consumed_ids(records)
    return accepted, [i for i in accepted if i not in consumed]
