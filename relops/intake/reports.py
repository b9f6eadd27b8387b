"""What an intake request reports, checked with the tasks' own validation. Pure: no I/O; the clock
and the config are arguments.

An Alertmanager webhook notification becomes relops.dispatch_alert events (relops.alerting.
alertmanager_webhook, checked by ``validate_alert_event``), the alerts it cannot take refused alone.
A cron ping becomes the kwargs of a relops.cron_run event (checked by ``parse_cron_run``); an
outcome batch the kwargs of relops.record_flow_outcomes (checked as ``parse_counts`` checks them:
decoded straight into its ``known_count_item`` and passed by ``whole_batch_minutes``, or else through
``parse_counts`` itself, which names the fault). What the tasks would reject is refused here first,
with the HTTP status that says whose fault it is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from relops_client.names import MAX_ITEMS_PER_BATCH

from relops.alerting.alertmanager_webhook import SeverityRule, WebhookAlerts, webhook_alerts
from relops.config import RelopsConfig
from relops.cron.events import CronRun, parse_cron_run
from relops.errors import InputRejected, Rejection
from relops.safe_json import MAX_DEPTH, depth_exceeds
from relops.slo.outcome_batch import FLOW, known_count_item, parse_counts, validate_batch_id, whole_batch_minutes
from relops.slo.retention import oldest_countable

#: The end of a ping URL: /start, nothing (success) or /fail.
PingKind = Literal["started", "success", "failure"]
PING_FIELDS = ("run_id", "duration_ms", "result", "error")
OUTCOME_FIELDS = ("batch_id", "counts")
#: Rejections of an outcome batch quoted in the response (all are recorded).
REJECTIONS_SHOWN = 20


class Refused(Exception):
    """A request the intake will not accept: the status, the field at fault and why."""

    def __init__(self, status: int, field: str, reason: str, *, item: int | None = None, **extra: Any) -> None:
        super().__init__(f"{field}: {reason}")
        self.status = status
        self.field = field
        self.reason = reason
        self.item = item
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.reason, "field": self.field}
        if self.item is not None:
            body["item"] = self.item
        return {**body, **self.extra}


@dataclass(frozen=True, slots=True)
class PingFields:
    run_id: str | None
    duration_ms: int | None
    result: Any
    error: str | None


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(400, "body", f"is not valid JSON ({str(exc)[:120]})") from None
    except RecursionError:  # deeper than Python's json decoder goes
        raise Refused(400, "body", f"is nested deeper than {MAX_DEPTH} levels") from None
    # The workers refuse a message nested deeper (relops.safe_json), with every report it carries.
    if depth_exceeds(value, MAX_DEPTH):
        raise Refused(400, "body", f"is nested deeper than {MAX_DEPTH} levels")
    if not isinstance(value, dict):
        raise Refused(400, "body", f"must be a JSON object, got {type(value).__name__}")
    return value


def _query_duration(value: str | None) -> int | None:
    """duration_ms from the query string (a JSON body's is checked by parse_cron_run)."""
    if not value:
        return None
    if not value.isdigit():
        raise Refused(422, "duration_ms", f"must be a whole number of milliseconds, got {value[:40]!r}")
    return int(value)


def ping_fields(kind: PingKind, query: Mapping[str, str], body: bytes, content_type: str) -> PingFields:
    """The optional fields of a ping, from the query string and the body: a JSON object when sent
    as application/json, otherwise the body is the result (success) or the error text (failure)."""
    unknown = sorted(set(query) - {"run_id", "duration_ms"})
    if unknown:
        raise Refused(422, unknown[0][:60], "is not a parameter of a cron ping (run_id, duration_ms)")
    fields: dict[str, Any] = {
        "run_id": query.get("run_id") or None,
        "duration_ms": _query_duration(query.get("duration_ms")),
    }
    if body and content_type.split(";")[0].strip().lower() == "application/json":
        sent = _json_object(body)
        extra = sorted(set(sent) - set(PING_FIELDS))
        if extra:
            raise Refused(422, extra[0][:60], f"is not a field of a cron ping ({', '.join(PING_FIELDS)})")
        for name in PING_FIELDS:
            if sent.get(name) is not None:
                fields[name] = sent[name]
    elif body:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            raise Refused(422, "body", "is not UTF-8 text") from None
        if kind == "success":
            fields["result"] = text
        elif kind == "failure":
            fields["error"] = text
        else:
            raise Refused(422, "body", "a start carries no text (send run_id as JSON or in the query string)")
    if kind == "started" and (fields.get("result") is not None or fields.get("error") is not None):
        raise Refused(422, "result" if fields.get("result") is not None else "error", "a start has no result or error")
    if kind != "failure" and fields.get("error") is not None:
        raise Refused(422, "error", "only a failure (/fail) carries an error")
    if fields["run_id"] is not None and not isinstance(fields["run_id"], str):
        raise Refused(422, "run_id", "must be a string")
    return PingFields(fields["run_id"], fields["duration_ms"], fields.get("result"), fields.get("error"))


def cron_event(
    job: str, kind: PingKind, fields: PingFields, run_id: str, *, now: datetime, result_max_bytes: int
) -> tuple[dict[str, Any], CronRun]:
    """The relops.cron_run kwargs of a ping with its run id settled, checked as the task checks them."""
    event = {
        "name": job,
        "run_id": run_id,
        "status": kind,
        "at": now.isoformat(),
        "duration_ms": fields.duration_ms,
        "result": fields.result,
        "error": fields.error,
    }
    try:
        run = parse_cron_run(event, now=now, result_max_bytes=result_max_bytes)
    except InputRejected as exc:
        raise Refused(422, exc.field, exc.reason) from None
    return event, run


def known_job(config: RelopsConfig, job: str) -> None:
    if job not in config.jobs_by_name:
        raise Refused(404, "job", f"{job[:100]!r} is not a job in the relops config (jobs are not created by reports)")


@dataclass(frozen=True, slots=True)
class OutcomeBatch:
    batch_id: str
    #: CountItem, or the items as sent when they carry more than the four fields (the task ignores the rest).
    counts: list[Any]
    flows_seen: frozenset[str] | None = None

    def flows(self) -> frozenset[str]:
        """The flows the batch reports."""
        return self.flows_seen if self.flows_seen is not None else frozenset(map(FLOW, self.counts))


class _BatchDecoder:
    """Decodes a well-formed batch of known flows in one pass (msgspec); anything else fails, and
    the general path decides. Built once per config."""

    def __init__(self, config: RelopsConfig) -> None:
        self.flows = config.pushed_flows_by_name
        item_type = known_count_item(self.flows)
        self.decoder = None
        if item_type is not None:
            batch_type = msgspec.defstruct(
                "WellFormedBatch",
                [
                    ("counts", Annotated[list[item_type], msgspec.Meta(max_length=MAX_ITEMS_PER_BATCH)]),  # type: ignore[valid-type]
                    # UNSET, not None: an explicit null is a fault the general path names.
                    ("batch_id", str | msgspec.UnsetType, msgspec.UNSET),
                ],
                forbid_unknown_fields=True,
            )
            self.decoder = msgspec.json.Decoder(batch_type)


_DECODERS: dict[int, _BatchDecoder] = {}


def _decoder(config: RelopsConfig) -> _BatchDecoder:
    found = _DECODERS.get(id(config))
    if found is None or found.flows is not config.pushed_flows_by_name:
        if len(_DECODERS) > 8:
            _DECODERS.clear()
        found = _DECODERS[id(config)] = _BatchDecoder(config)
    return found


#: Raises Refused (403) when a key may not report one of these flows.
FlowCheck = Callable[[frozenset[str]], None]


def outcome_batch(
    body: bytes, config: RelopsConfig, now: datetime, *, check_flows: FlowCheck | None = None
) -> OutcomeBatch:
    """A whole batch, or Refused: unlike the task, the intake takes all of a batch or none of it, so
    the client can fix the batch and resend it under the same batch_id.

    ``check_flows`` (for a key limited to some flows) sees the flows the batch names before anything
    else about them is checked: a flow outside the key is refused the same way whether it exists or
    not, so such a key cannot learn which others do."""
    decoder = _decoder(config).decoder
    try:
        decoded = None if decoder is None else decoder.decode(body)
    except msgspec.DecodeError:  # anything unusual: the general path below accepts it or says why not
        decoded = None
    if decoded is not None and whole_batch_minutes(decoded.counts, now, oldest_countable(config, now)) is not None:
        if check_flows is not None:
            check_flows(frozenset(map(FLOW, decoded.counts)))
        sent_id = decoded.batch_id
        try:
            batch_id = uuid.uuid4().hex if sent_id is msgspec.UNSET else validate_batch_id(sent_id)
        except InputRejected as exc:
            raise Refused(422, exc.field, exc.reason) from None
        return OutcomeBatch(batch_id=batch_id, counts=decoded.counts)
    return _general_batch(body, config, now, check_flows)


def _named_flows(counts: Any) -> frozenset[str]:
    """The flow names a batch's items give, whatever else is wrong with them."""
    if not isinstance(counts, list):
        return frozenset()
    return frozenset(item["flow"] for item in counts if isinstance(item, dict) and isinstance(item.get("flow"), str))


def _general_batch(body: bytes, config: RelopsConfig, now: datetime, check_flows: FlowCheck | None) -> OutcomeBatch:
    payload = _json_object(body)
    if check_flows is not None:
        check_flows(_named_flows(payload.get("counts")))
    extra = sorted(set(payload) - set(OUTCOME_FIELDS))
    if extra:
        raise Refused(422, extra[0][:60], f"is not a field of an outcome batch ({', '.join(OUTCOME_FIELDS)})")
    try:
        # Without a batch_id a retry after a lost answer would count twice; the caller is told the id.
        batch_id = validate_batch_id(payload["batch_id"]) if "batch_id" in payload else uuid.uuid4().hex
        counts = payload.get("counts")
        items, rejections = parse_counts(
            counts,
            known_flows=config.pushed_flows_by_name,
            refused_flows=config.sourced_flow_refusals,
            now=now,
            oldest=oldest_countable(config, now),
        )
    except InputRejected as exc:
        raise Refused(422, exc.field, exc.reason) from None
    if rejections:
        raise _batch_refusal(rejections)
    return OutcomeBatch(batch_id=batch_id, counts=counts, flows_seen=frozenset(item.flow for item in items))


def _batch_refusal(rejections: list[Rejection]) -> Refused:
    unknown = [r for r in rejections if r.field == "flow" and "not a flow" in r.reason]
    first = unknown[0] if unknown else rejections[0]
    shown = [{"item": r.item_index, "field": r.field, "error": r.reason} for r in rejections[:REJECTIONS_SHOWN]]
    return Refused(
        404 if unknown else 422,
        first.field,
        first.reason if not unknown else "is not a flow in the relops config (flows are not created by reports)",
        item=first.item_index,
        rejections=shown,
        rejected_items=len(rejections),
    )


def alertmanager_alerts(body: bytes, rule: SeverityRule, now: datetime) -> WebhookAlerts:
    """The alert events of an Alertmanager webhook notification; Refused (400) when the body is not
    one. Alerts relops cannot take are in its ``rejections``, the others taken: Alertmanager resends a
    refused notification whole (5xx) or drops it (4xx), so one bad alert must not cost the group."""
    payload = _json_object(body)
    try:
        return webhook_alerts(payload, rule, now)
    except InputRejected as exc:
        raise Refused(400, exc.field, exc.reason) from None
