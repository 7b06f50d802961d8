"""From ``order_transform``'s answers to table rows, with an exact account of every extracted order.

The transform answers each staged part (``order_staging``) with ``{"valid": [...], "rejects": [...]}``
written to the part's ``output_key``. Every order id the extract staged must come back exactly once,
as a valid order or a reject: anything else (a lost part, a duplicate) fails the run before a row is
committed, so facts + rejects always add up to the source count. Parts are read one at a time and
their rows handed on (to the tables' ``RunSetWriter``, which writes them to data files as they come),
so memory holds one part whatever the hour's size (and an 8-byte hash per order id, to find an
order staged in two parts). After a part whose answer does not add up, the rest are still checked,
so the error names every discrepancy at once, but no more rows are handed on (those handed on
before it are in data files that are never committed). Rows carry their hour
(``interval_start`` / ``interval_end``, the run key) and the run that wrote them (``dag_id`` /
``run_id``).
"""

from __future__ import annotations

import json
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from lambdapipe.fanout.results import item_results
from lambdapipe_demo.order_staging import StagedPart, ids_digest, read_part_orders
from lambdapipe_demo.orders import Window

SAMPLE_IDS = 5
# What order_transform returns for a valid order (and its lines) that the tables keep.
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "created_at",
    "status",
    "currency",
    "shipping_country",
    "item_count",
    "quantity_total",
    "order_total",
    "order_total_usd",
    "usd_per_unit",
    "rates_version",
    "anomalies",
)
LINE_COLUMNS = ("sku", "qty", "unit_price", "line_total", "line_total_usd")


class OrderAccountingError(RuntimeError):
    """Extracted orders and transform results do not match one to one; names what is off."""


@dataclass
class RunTally:
    """The run in numbers, added up part by part (the SNS summary and XCom: no order contents)."""

    valid: int = 0
    rejected: int = 0
    anomalies: int = 0
    revenue_usd: Decimal = Decimal("0.00")
    reject_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, output: dict[str, Any]) -> None:
        self.valid += len(output["valid"])
        self.rejected += len(output["rejects"])
        self.anomalies += sum(1 for order in output["valid"] if order.get("anomalies"))
        self.revenue_usd += sum(
            (Decimal(order["order_total_usd"]) for order in output["valid"]), Decimal("0.00")
        )
        self.reject_reasons.update(reject["reason"] for reject in output["rejects"])


@dataclass
class _Discrepancies:
    """What the parts' answers got wrong, across the run (a few ids of each kind, every count)."""

    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)

    def note(self, kind: str, order_ids: list[str]) -> None:
        self.counts[kind] += len(order_ids)
        samples = getattr(self, kind)
        samples.extend(order_ids[: SAMPLE_IDS - len(samples)])


@dataclass(frozen=True)
class PartAnswers:
    """What the transform map answered: the output keys its succeeded invocations wrote."""

    output_keys: frozenset[str]
    failed_items: int = 0

    @classmethod
    def from_map(cls, s3: Any, map_summary: dict[str, Any]) -> PartAnswers:
        keys, failed = set(), 0
        for line in item_results(s3, map_summary):
            result = line.get("result")
            if line.get("status") != "succeeded" or not isinstance(result, dict):
                failed += 1
                continue
            keys.add(result.get("output_key"))
        return cls(frozenset(keys), failed)


def read_facts(
    s3: Any,
    bucket: str,
    staged: dict[Window, list[StagedPart]],
    answers: PartAnswers,
    lineage: dict[str, str],
    rejected_at: datetime,
    add_rows: Callable[[str, Window, list[dict[str, Any]]], None],
) -> RunTally:
    """Every part's answer, checked against what was staged, handed to ``add_rows`` as each table's
    rows for the part's hour; one part in memory at a time.

    Each staged part must have one answer from the map's current run holding each of its order ids
    exactly once (as a valid order or a reject), else :class:`OrderAccountingError` names what is off
    before anything is committed. An answer is matched to its part by ``output_key``, which carries
    the part's content digest: an answer to other content never counts.
    """
    tally, wrong, accepted = RunTally(), _Discrepancies(), _IdsAcrossParts()
    for window, parts in sorted(staged.items()):
        for part in parts:
            if part.output_key not in answers.output_keys:
                wrong.note("missing", _part_ids(s3, bucket, part))
                continue
            output = json.loads(s3.get_object(Bucket=bucket, Key=part.output_key)["Body"].read())
            returned = [order["order_id"] for order in output["valid"]] + [
                reject.get("order_id") for reject in output["rejects"]
            ]
            if len(returned) != part.orders or ids_digest(returned) != part.ids_sha256:
                _note_differences(wrong, _part_ids(s3, bucket, part), returned)
                continue
            accepted.add(part, returned)
            tally.add(output)
            if not wrong.counts:  # the run fails anyway: write nothing more that would never commit
                for table, rows in part_rows(output, window, lineage, rejected_at).items():
                    add_rows(table, window, rows)
    in_two_parts = accepted.in_two_parts(lambda part: _part_ids(s3, bucket, part))
    if in_two_parts:
        wrong.note("duplicated", in_two_parts)
    if wrong.counts:
        extracted = sum(part.orders for parts in staged.values() for part in parts)
        raise OrderAccountingError(
            f"{extracted} orders extracted, {tally.valid} valid + {tally.rejected} rejected came back "
            f"from the parts that add up ({answers.failed_items} parts failed in the map): "
            f"missing {wrong.counts['missing']} {wrong.missing}, "
            f"duplicated {wrong.counts['duplicated']} {wrong.duplicated}, "
            f"unexpected {wrong.counts['unexpected']} {wrong.unexpected}"
        )
    return tally


class _IdsAcrossParts:
    """The order ids of the parts that added up, kept as 8-byte hashes (8 MB for a million orders, not
    a set of strings), to find an order staged in two parts (its time moved to another of the run's
    hours during the extract): each part adds up on its own, but the run would hold the order twice."""

    def __init__(self) -> None:
        self._hashes = array("q")
        self._parts: list[tuple[StagedPart, int, int]] = []  # each part's slice of the hashes

    def add(self, part: StagedPart, order_ids: list[Any]) -> None:
        start = len(self._hashes)
        self._hashes.extend(hash(str(order_id)) for order_id in order_ids)
        self._parts.append((part, start, len(self._hashes)))

    def in_two_parts(self, part_ids: Callable[[StagedPart], list[str]]) -> list[str]:
        """The ids in more than one part, confirmed by the staged ids of the parts holding a repeated
        hash (two ids may share one)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        hashes = pa.Array.from_buffers(pa.int64(), len(self._hashes), [None, pa.py_buffer(self._hashes)])
        counts = pc.value_counts(hashes)
        repeated = set(counts.field("values").filter(pc.greater(counts.field("counts"), 1)).to_pylist())
        if not repeated:
            return []
        holding = [
            part for part, start, end in self._parts if not repeated.isdisjoint(self._hashes[start:end])
        ]
        found = Counter(
            order_id for part in holding for order_id in part_ids(part) if hash(order_id) in repeated
        )
        return sorted(order_id for order_id, times in found.items() if times > 1)


def _part_ids(s3: Any, bucket: str, part: StagedPart) -> list[str]:
    return [str(order.get("order_id")) for order in read_part_orders(s3, bucket, part.key)]


def _note_differences(wrong: _Discrepancies, staged_ids: list[str], returned: list[Any]) -> None:
    counted = Counter(str(order_id) for order_id in returned)
    expected = set(staged_ids)
    wrong.note("missing", sorted(expected - set(counted)))
    wrong.note("duplicated", sorted(order_id for order_id, count in counted.items() if count > 1))
    wrong.note("unexpected", sorted(set(counted) - expected))


def part_rows(
    output: dict[str, Any], window: Window, lineage: dict[str, str], rejected_at: datetime
) -> dict[str, list[dict[str, Any]]]:
    """Rows for ``orders``, ``order_lines`` and ``order_rejects`` from one part's answer."""
    keys = {**lineage, "interval_start": window.start, "interval_end": window.end}
    tables: dict[str, list[dict[str, Any]]] = {"orders": [], "order_lines": [], "order_rejects": []}
    for order in output["valid"]:
        order_date = order["created_at"][:10]
        tables["orders"].append(
            {**{name: order[name] for name in ORDER_COLUMNS}, "order_date": order_date, **keys}
        )
        for number, line in enumerate(order["items"], start=1):
            tables["order_lines"].append(
                {
                    "order_id": order["order_id"],
                    "line_number": number,
                    **{name: line[name] for name in LINE_COLUMNS},
                    "currency": order["currency"],
                    "shipping_country": order["shipping_country"],
                    "order_date": order_date,
                    **keys,
                }
            )
    for reject in output["rejects"]:
        tables["order_rejects"].append(
            {
                **{name: reject.get(name) for name in ("order_id", "reason", "field", "detail")},
                "rejected_at": rejected_at,
                **keys,
            }
        )
    return tables


def run_summary(windows: list[Window], tally: RunTally, map_summary: dict[str, Any] | None) -> dict[str, Any]:
    """The run in numbers, for the SNS summary and XCom (KB-sized: no order contents)."""
    orders_in = tally.valid + tally.rejected
    return {
        "windows": [window.to_dict() for window in windows],
        "orders_in": orders_in,
        "orders_valid": tally.valid,
        "orders_rejected": tally.rejected,
        "reject_rate": round(tally.rejected / orders_in, 4) if orders_in else 0.0,
        "reject_reasons": dict(sorted(tally.reject_reasons.items())),
        "anomalies": tally.anomalies,
        "revenue_usd": str(tally.revenue_usd),
        "lambda_invocations": (map_summary or {}).get("invocations", 0),
        "lambda_cost_usd": (map_summary or {}).get("cost_usd", 0.0),
    }


def alert_message(summary: dict[str, Any], max_reject_rate: float, max_anomalies: int) -> dict[str, Any]:
    """The alert to send when the run crosses a threshold, else {} (SnsNotifyOperator sends nothing)."""
    reasons = []
    if summary["reject_rate"] > max_reject_rate:
        reasons.append(f"reject rate {summary['reject_rate']:.1%} above {max_reject_rate:.1%}")
    if summary["anomalies"] > max_anomalies:
        reasons.append(f"{summary['anomalies']} anomalous orders, more than {max_anomalies}")
    if not reasons:
        return {}
    return {"reason": "; ".join(reasons), **summary}
