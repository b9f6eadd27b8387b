"""The intake's HTTP endpoints: report-only, separate from the admin dashboard.

    POST /api/v1/outcomes                      an outcome batch (relops.record_flow_outcomes' JSON)
    POST /api/v1/alertmanager                  an Alertmanager webhook notification (payload version 4)
    POST /v1/traces                            OpenTelemetry spans (OTLP/HTTP, protobuf or JSON, gzip or not)
    POST /api/v1/slack/interactions            a click on a Slack alert's button, signed by the Slack app
    POST /api/v1/pagerduty/webhooks            PagerDuty v3 webhooks: an ack or resolve made in PagerDuty
                                               (no key: signed with X-PagerDuty-Signature; relops.intake.pagerduty)
    GET|HEAD|POST /api/v1/cron/{job}[/start|/fail]         a cron ping, key in Authorization: Bearer
    GET|HEAD|POST /api/v1/ping/{key}/{job}[/start|/fail]   the same, key in the URL (for crontabs)
    GET /healthz                               no key; says whether keys are loaded

Every request is answered 202 only once the broker holds its message (an Alertmanager notification
200, with how many of its alerts were taken and which were refused; an OTLP export 200, as OTLP/HTTP
answers, with its refused spans in ``partial_success`` and its failures as ``google.rpc.Status``:
relops.intake.otlp). Refusals: 401 (no or unknown
key), 403 (outside the key's scopes), 404 (unknown job or flow: reports create nothing), 400/422
(malformed or invalid, naming the field), 413 (body too large), 429 (key over its rate limit, or
the caller's address over its refusal rate) and 503 (broker or key store unavailable, or too many
reports waiting), each with ``Retry-After`` where waiting helps. Nothing here reads ops data but the
Slack endpoint, which reads the incident and the user a signed click names (relops.intake.slack). A
key never appears in a log line, an error body or a rejection row.

A refusal costs little whoever sends it: refusals are tallied (relops.intake.rejection_log), an
address refused too often gets bare 429s (relops.intake.address_buckets), and a refused request's
body is read and dropped up to a bound, so a client that sends all of its body before reading (as
Python's urllib does) sees the answer rather than a connection reset.

Every answer, accepted or refused, is counted per endpoint and status (relops.intake.request_totals)
into totals that only go up, which the dashboard's /metrics exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from relops_client.logs import log_event
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from relops import names
from relops.access.report_keys import ReportKey, Scope, refusal
from relops.alerting import pagerduty_webhook
from relops.alerting.alertmanager_webhook import SeverityRule
from relops.config import RelopsConfig
from relops.errors import InputRejected, Rejection, excerpt
from relops.intake import otlp, request_totals
from relops.intake.address_buckets import AddressBuckets
from relops.intake.group import Answer, Report, ReportGroups
from relops.intake.key_cache import KeyCache, KeysUnavailable
from relops.intake.pagerduty import PagerDutyWebhooks
from relops.intake.publisher import BrokerPublisher
from relops.intake.rejection_log import RejectionLog
from relops.intake.reports import (
    REJECTIONS_SHOWN,
    PingKind,
    Refused,
    alertmanager_alerts,
    cron_event,
    known_job,
    outcome_batch,
    ping_fields,
)
from relops.intake.shared_state import SharedState
from relops.intake.slack import MAX_BODY_BYTES as SLACK_MAX_BODY_BYTES
from relops.intake.slack import PATH as SLACK_PATH
from relops.intake.slack import SlackInteractions
from relops.intake.span_totals import SpanTotals
from relops.redaction import redact_request_target
from relops.slo.retention import oldest_countable
from relops.slo.span_mapping import SpanMapping, SpanTally
from relops.timeutil import utcnow

logger = logging.getLogger(__name__)
_ENCODE = msgspec.json.Encoder().encode
#: Rejection rows name the endpoint they came to.
TASK_OUTCOMES = "intake:outcomes"
TASK_CRON = "intake:cron"
TASK_ALERTMANAGER = "intake:alertmanager"
TASK_OTLP = "intake:otlp"
TASK_SLACK = "intake:slack"
TASK_PAGERDUTY = "intake:pagerduty"
#: ...and those that came to no endpoint (an unknown path or method), like the rate limits' rows.
TASK_OTHER = "intake"
KEYS_RETRY_AFTER_S = 5
PING_KINDS: dict[str, PingKind] = {"": "success", "start": "started", "fail": "failure"}
METHODS = ["GET", "POST"]  # Starlette answers HEAD wherever GET is allowed
#: Refusals that are the caller's fault: each takes a token from its address's bucket (429s for a
#: key's rate and 503s do not: the first are counted per key, the second are the intake's fault).
CALLER_FAULTS = frozenset({400, 401, 403, 404, 405, 413, 415, 422})
#: A refused request's body is read and dropped up to this much (and for this long), so the client
#: reads the answer; a longer one is left unread and its connection closed after the answer.
DISCARD_MAX_BYTES = 8 * 1_048_576
DISCARD_MAX_S = 5.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a request came: the task its rejection rows name, and its request totals' label."""

    task: str
    label: str


OUTCOMES = Endpoint(TASK_OUTCOMES, request_totals.OUTCOMES)
CRON = Endpoint(TASK_CRON, request_totals.CRON)
PING = Endpoint(TASK_CRON, request_totals.PING)
ALERTMANAGER = Endpoint(TASK_ALERTMANAGER, request_totals.ALERTMANAGER)
OTLP = Endpoint(TASK_OTLP, request_totals.OTLP)
SLACK = Endpoint(TASK_SLACK, request_totals.SLACK)
PAGERDUTY = Endpoint(TASK_PAGERDUTY, request_totals.PAGERDUTY)
OTHER = Endpoint(TASK_OTHER, request_totals.OTHER)


@dataclass
class IntakeDeps:
    """What the app runs with; ``relops intake`` builds them from the settings, tests from theirs."""

    config: RelopsConfig
    keys: KeyCache
    groups: ReportGroups
    rejections: RejectionLog
    addresses: AddressBuckets
    #: The Slack app's button clicks (relops.intake.slack); None: no SLACK_SIGNING_SECRET, the endpoint is 404.
    slack: SlackInteractions | None = None
    now: Callable[[], datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    #: PagerDuty's webhooks (RELOPS_PAGERDUTY_WEBHOOK_SECRETS set); None: the endpoint answers 404.
    pagerduty: PagerDutyWebhooks | None = None


def _answer(answer: Answer) -> Response:
    # msgspec writes the JSON: the answer to every accepted request is on the intake's hot path.
    return Response(_ENCODE(answer.body), answer.status, answer.headers or None, "application/json")


def _otlp_failure(encoding: otlp.Encoding, answer: Answer) -> Response:
    """A refused OTLP export: its status and headers, the reason as a google.rpc.Status in the
    request's encoding (OTLP/HTTP, "Failures")."""
    message = f"{answer.body.get('field', 'request')}: {answer.body.get('error', 'refused')}"
    body = otlp.status_body(encoding, message)
    return Response(body, answer.status, answer.headers or None, otlp.MEDIA_TYPES[encoding])


class Intake:
    def __init__(self, parts: IntakeDeps) -> None:
        self.parts = parts
        self.severity_rule = SeverityRule.from_config(parts.config.intake)
        self.span_mapping = SpanMapping(parts.config.flows)
        self.span_totals = SpanTotals()

    # ------------------------------------------------------------------ endpoints

    async def outcomes(self, request: Request) -> Response:
        reference: str | None = None
        key: ReportKey | None = None
        try:
            key = self._bearer(request)
            self._scope(key, "outcomes", ())
            body = await _bounded_body(request, self.parts.config.intake.max_outcome_body_bytes)
            check_flows = None if key.flows is None else functools.partial(self._scope, key, "outcomes")
            batch = outcome_batch(body, self.parts.config, self.parts.now(), check_flows=check_flows)
            reference = batch.batch_id
        except Refused as refused:
            return await self._refuse(request, OUTCOMES, reference, key, refused)
        kwargs = {"batch_id": batch.batch_id, "counts": batch.counts}
        return await self._submit(Report(key, names.TASK_RECORD_FLOW_OUTCOMES, kwargs), OUTCOMES, reference)

    async def alertmanager(self, request: Request) -> Response:
        """An Alertmanager webhook notification: its good alerts to the alert router, its bad ones
        refused by index in the answer and the rejection log. 200 either way: Alertmanager would
        resend a 5xx whole, forever, for the alert it cannot fix."""
        key: ReportKey | None = None
        try:
            key = self._bearer(request)
            self._scope(key, "alerts", ())
            body = await _bounded_body(request, self.parts.config.intake.max_alertmanager_body_bytes)
            found = alertmanager_alerts(body, self.severity_rule, self.parts.now())
        except Refused as refused:
            return await self._refuse(request, ALERTMANAGER, None, key, refused)
        reference = found.group_key or None
        events = [event.as_kwargs() for event in found.events]
        report = Report(key, names.TASK_DISPATCH_ALERT, {"events": events})
        answer = await self.parts.groups.submit(report)
        if answer.status != 200:
            return await self._answered(answer, report, ALERTMANAGER, reference)
        # Recorded once the notification is taken: a 429 or 503 is sent again, bad alerts and all.
        if found.rejections:
            self.parts.rejections.items_refused(TASK_ALERTMANAGER, key.name, reference, found.rejections)
        body_out: dict[str, Any] = {**answer.body, "refused": len(found.rejections)}
        if found.rejections:
            body_out["rejections"] = [
                {"item": r.item_index, "field": r.field, "error": r.reason} for r in found.rejections[:REJECTIONS_SHOWN]
            ]
        if found.truncated_alerts:
            # Alertmanager left these out (its max_alerts): relops never sees their state.
            body_out["truncated_alerts"] = found.truncated_alerts
            log_event(
                logger, logging.WARNING, "intake.alerts_truncated", key=key.name, truncated=found.truncated_alerts
            )
        self.parts.rejections.totals.count(ALERTMANAGER.label, 200)
        return _answer(Answer(200, body_out))

    async def traces(self, request: Request) -> Response:
        """An OTLP/HTTP trace export: its spans counted per flow and minute (relops.slo.span_mapping)
        and sent on as outcome batches named by the export's digest, so an exporter's retry of the same
        bytes is counted once by the workers. 200 once the broker holds them, with the spans that
        could not count in ``partial_success`` (OTLP: such an answer is never retried)."""
        encoding = otlp.encoding_of(request.headers.get("content-type", ""))
        render = functools.partial(_otlp_failure, encoding or "protobuf")
        key: ReportKey | None = None
        try:
            if encoding is None:
                raise Refused(415, "Content-Type", f"send {otlp.PROTOBUF} or {otlp.JSON} (OTLP/HTTP)")
            key = self._bearer(request)
            self._scope(key, "otlp", ())
            limit = self.parts.config.intake.max_otlp_body_bytes
            sent = await _bounded_body(request, limit)
            body = otlp.inflated(sent, request.headers.get("content-encoding", ""), limit)
            export = otlp.decode_request(body, encoding)
            now = self.parts.now()
            oldest = oldest_countable(self.parts.config, now)
            tally = SpanTally(now=now, oldest=oldest, allowed=key.flows, key_name=key.name)
            otlp.tally_spans(export, self.span_mapping, tally)
        except Refused as refused:
            return await self._refuse(request, OTLP, None, key, refused, render=render)
        reference = f"otlp-{otlp.body_digest(body)}"
        report = Report(key, names.TASK_RECORD_FLOW_OUTCOME_BATCHES, {"batches": tally.batches(reference)})
        answer = await self.parts.groups.submit(report)
        if answer.status != 200:
            return await self._answered(answer, report, OTLP, reference, render)
        # Recorded once the export is taken: a 429 or 503 is sent again, refused spans and all.
        if tally.refused:
            refusals = [Rejection(None, "spans", f"{count} x {why}", "") for why, count in tally.reasons.items()]
            self.parts.rejections.items_refused(TASK_OTLP, key.name, reference, refusals)
        self.span_totals.add(tally)
        self.parts.rejections.totals.count(OTLP.label, 200)
        body_out = otlp.export_response(encoding, tally.refused, tally.error_message())
        return Response(body_out, 200, media_type=otlp.MEDIA_TYPES[encoding])

    async def slack_interactions(self, request: Request) -> Response:
        """A click on a Slack alert message's button: signed by the Slack app, or refused with 401
        and nothing changed (relops.intake.slack)."""
        try:
            if self.parts.slack is None:
                raise Refused(404, "path", "Slack interactions are off here: the intake has no SLACK_SIGNING_SECRET")
            body = await _bounded_body(request, SLACK_MAX_BODY_BYTES)
            response = await self.parts.slack.respond(self.parts.slack.verified_click(body, request.headers))
        except Refused as refused:
            return await self._refuse(request, SLACK, None, None, refused)
        self.parts.rejections.totals.count(SLACK.label, response.status_code)
        return response

    async def pagerduty(self, request: Request) -> Response:
        """A PagerDuty v3 webhook: an incident acknowledged or resolved in PagerDuty, applied to the
        relops incident it paged for (relops.intake.pagerduty). Signed, not keyed: unsigned 401,
        wrongly signed 403, not a v3 event 400. 200 once applied, or once known to change nothing
        (a replay, an earlier episode, an incident relops did not send, an event type relops does
        not act on), so PagerDuty stops redelivering it; 503 when the database cannot say, so it
        redelivers."""
        hooks = self.parts.pagerduty
        try:
            if hooks is None:
                raise Refused(404, "path", "PagerDuty webhooks are not enabled (RELOPS_PAGERDUTY_WEBHOOK_SECRETS)")
            body = await _bounded_body(request, pagerduty_webhook.MAX_BODY_BYTES)
            header = request.headers.get(pagerduty_webhook.HEADER)
            if not pagerduty_webhook.signature_entries(header):
                raise Refused(401, pagerduty_webhook.HEADER, "unsigned: PagerDuty signs every v3 webhook (v1=...)")
            if not pagerduty_webhook.signature_matches(body, header, hooks.secrets):
                raise Refused(403, pagerduty_webhook.HEADER, "no v1 signature matches a configured secret")
            try:
                change = pagerduty_webhook.parse_webhook(body)
            except InputRejected as exc:
                raise Refused(400, exc.field, exc.reason) from None
        except Refused as refused:
            return await self._refuse(request, PAGERDUTY, None, None, refused)
        if isinstance(change, pagerduty_webhook.IgnoredEvent):
            log_event(
                logger, logging.INFO, "intake.pagerduty_ignored", event_id=change.event_id, event_type=change.event_type
            )
            self.parts.rejections.totals.count(PAGERDUTY.label, 200)
            return _answer(Answer(200, {"changed": False, "reason": change.reason}))
        try:
            applied = await hooks.apply(change)
        except SQLAlchemyError:
            self.parts.rejections.totals.count(PAGERDUTY.label, 503)
            body_out = {"error": "the incident cannot be changed right now (database unavailable)", "field": "-"}
            return JSONResponse(body_out, status_code=503, headers={"Retry-After": str(KEYS_RETRY_AFTER_S)})
        log_event(
            logger,
            logging.WARNING if applied.changed else logging.INFO,
            "intake.pagerduty_applied" if applied.changed else "intake.pagerduty_unchanged",
            event_id=change.event_id,
            event_type=change.event_type,
            incident_id=change.episode.incident_id if change.episode else None,
            agent=change.agent,
            reason=applied.reason,
        )
        self.parts.rejections.totals.count(PAGERDUTY.label, 200)
        return _answer(Answer(200, applied.body(change)))

    async def cron(self, request: Request) -> Response:
        return await self._ping(request, self._bearer, CRON)

    async def ping(self, request: Request) -> Response:
        return await self._ping(request, self._path_key, PING)

    async def healthz(self, request: Request) -> Response:
        if not self.parts.keys.loaded:
            return JSONResponse({"ok": False, "keys": "not loaded"}, status_code=503)
        return JSONResponse({"ok": True})

    # ------------------------------------------------------------------ the steps

    async def _ping(
        self, request: Request, authenticate: Callable[[Request], ReportKey], endpoint: Endpoint
    ) -> Response:
        job = request.path_params["job"]
        key: ReportKey | None = None
        try:
            key = authenticate(request)
            kind = PING_KINDS.get(request.path_params.get("kind", ""))
            if kind is None:
                raise Refused(404, "path", "a cron ping URL ends with the job, /start or /fail")
            # The key's scope first: a key limited to some jobs must not learn which others exist.
            self._scope(key, "cron", (job,))
            known_job(self.parts.config, job)
            body = await _bounded_body(request, self.parts.config.intake.max_ping_body_bytes)
            query = request.query_params if request.scope["query_string"] else {}  # most pings carry none
            fields = ping_fields(kind, query, body, request.headers.get("content-type", ""))
            config = self.parts.config
            # Checked with a stand-in run id when the group will pair one; the id is all it changes.
            event, _ = cron_event(
                job,
                kind,
                fields,
                fields.run_id or "pending",
                now=self.parts.now(),
                result_max_bytes=config.cron.result_max_bytes,
            )
        except Refused as refused:
            return await self._refuse(request, endpoint, job, key, refused)
        event["run_id"] = fields.run_id
        return await self._submit(Report(key, names.TASK_CRON_RUN, event), endpoint, job)

    async def _submit(self, report: Report, endpoint: Endpoint, reference: str | None) -> Response:
        return await self._answered(await self.parts.groups.submit(report), report, endpoint, reference)

    async def _answered(
        self,
        answer: Answer,
        report: Report,
        endpoint: Endpoint,
        reference: str | None,
        render: Callable[[Answer], Response] = _answer,
    ) -> Response:
        self.parts.rejections.totals.count(endpoint.label, answer.status)
        if answer.status == 429:
            self.parts.rejections.rate_limited(report.key.name)
        elif answer.status >= 300:
            rejection = Rejection(None, str(answer.body.get("field", "-")), str(answer.body.get("error")), "")
            self.parts.rejections.refused(endpoint.task, answer.status, report.key.name, reference, rejection)
        return render(answer)

    async def unrouted(self, request: Request, exc: Exception) -> Response:
        """Starlette's own 404 (no such path) and 405 (method), counted like every other refusal."""
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            refused = Refused(405, "method", f"{request.method[:10]} is not allowed here")
        else:
            refused = Refused(404, "path", "no intake endpoint here (see /api/v1/outcomes, /api/v1/cron/{job})")
        response = await self._refuse(request, OTHER, None, None, refused)
        allow = getattr(exc, "headers", None) or {}
        if "Allow" in allow and response.status_code == 405:
            response.headers["Allow"] = allow["Allow"]
        return response

    def _bearer(self, request: Request) -> ReportKey:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Refused(401, "Authorization", "send a report key as Authorization: Bearer <key>")
        return self._known(key.strip())

    def _path_key(self, request: Request) -> ReportKey:
        return self._known(request.path_params["key"])

    def _known(self, key: str) -> ReportKey:
        try:
            found = self.parts.keys.lookup(key)
        except KeysUnavailable:
            raise Refused(503, "key", "report keys cannot be checked right now (database unavailable)") from None
        if found is None:
            raise Refused(401, "key", "unknown or revoked report key")
        return found

    @staticmethod
    def _scope(key: ReportKey, scope: Scope, subjects: Collection[str]) -> None:
        reason = refusal(key, scope, subjects)
        if reason is not None:
            raise Refused(403, "key", reason)

    async def _refuse(
        self,
        request: Request,
        endpoint: Endpoint,
        reference: str | None,
        key: ReportKey | None,
        refused: Refused,
        *,
        render: Callable[[Answer], Response] | None = None,
    ) -> Response:
        # The path is recorded redacted (a ping URL carries its key); the body and headers never are.
        shown = redact_request_target(request.url.path)
        rejection = Rejection(refused.item, refused.field, refused.reason, excerpt(f"{request.method} {shown}"))
        wait_s = None
        if refused.status in CALLER_FAULTS:
            address = request.client.host if request.client else "unknown"
            wait_s = self.parts.addresses.take(address, self.parts.monotonic())
        self.parts.rejections.refused(
            endpoint.task,
            refused.status,
            None if key is None else key.name,
            reference,
            rejection,
            throttled=wait_s is not None,
        )
        headers: dict[str, str] = {}
        if wait_s is not None:
            # Over its refusal rate: a bare answer, and its body (if any) not read.
            status, body = 429, {"error": "too many refused requests from this address", "field": "address"}
            headers["Retry-After"] = str(wait_s)
            read_all = await _discard_body(request, 0)
        else:
            status, body = refused.status, refused.body()
            if refused.status == 401:
                headers["WWW-Authenticate"] = "Bearer"
            if refused.status == 503:
                headers["Retry-After"] = str(KEYS_RETRY_AFTER_S)
            read_all = await _discard_body(request, DISCARD_MAX_BYTES)
        self.parts.rejections.totals.count(endpoint.label, status)
        if not read_all:
            headers["Connection"] = "close"  # what is left of the body is not worth reading
        if render is not None:
            return render(Answer(status, body, headers))
        return JSONResponse(body, status_code=status, headers=headers or None)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, or 413 as soon as it is known to be longer than ``limit`` (before reading it, when
    Content-Length says so)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        if int(declared) > limit:
            raise Refused(413, "body", f"is {int(declared)} bytes, more than {limit}")
        body = await request.body()  # the server reads no more than Content-Length says
        request.state.body_read = True
        return body
    if request.method in ("GET", "HEAD") and "transfer-encoding" not in request.headers:
        return b""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, "body", f"is more than {limit} bytes")
        chunks.append(chunk)
    request.state.body_read = True
    return b"".join(chunks)


async def _discard_body(request: Request, limit: int) -> bool:
    """Reads and drops what is left of a refused request's body, up to ``limit`` bytes and
    DISCARD_MAX_S: whether it was all read (then the connection can stay open)."""
    if getattr(request.state, "body_read", False):
        return True
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in request.headers:
        return True
    dropped = 0
    try:
        async with asyncio.timeout(DISCARD_MAX_S):
            while dropped <= limit:
                message = await request.receive()
                if message["type"] != "http.request":
                    return False  # the client went away
                dropped += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return True
    except TimeoutError:
        pass
    return False


def create_intake_app(parts: IntakeDeps, *, extra_routes: list[Route] | None = None) -> Starlette:
    """The intake as an ASGI app; ``extra_routes`` lets the benchmark add its bare endpoint to the
    very same stack."""
    intake = Intake(parts)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        parts.keys.start()
        parts.rejections.start()
        try:
            yield
        finally:
            await parts.groups.close()
            parts.rejections.stop()
            parts.keys.stop()

    unrouted = {404: intake.unrouted, 405: intake.unrouted}
    routes = [
        Route("/api/v1/outcomes", intake.outcomes, methods=["POST"]),
        Route("/api/v1/alertmanager", intake.alertmanager, methods=["POST"]),
        # OTLP/HTTP's default path for traces: an exporter needs only the intake's address and a header.
        Route("/v1/traces", intake.traces, methods=["POST"]),
        Route(SLACK_PATH, intake.slack_interactions, methods=["POST"]),
        Route("/api/v1/pagerduty/webhooks", intake.pagerduty, methods=["POST"]),
        Route("/api/v1/cron/{job}", intake.cron, methods=METHODS),
        Route("/api/v1/cron/{job}/{kind:str}", intake.cron, methods=METHODS),
        Route("/api/v1/ping/{key}/{job}", intake.ping, methods=METHODS),
        Route("/api/v1/ping/{key}/{job}/{kind:str}", intake.ping, methods=METHODS),
        Route("/healthz", intake.healthz, methods=["GET"]),
        *(extra_routes or []),
    ]
    return Starlette(routes=routes, lifespan=lifespan, exception_handlers=unrouted)


def build_intake_deps(
    config: RelopsConfig,
    engine: Engine,
    redis_client: Any,
    broker_url: str,
    slack_clicks: SlackInteractions | None = None,
    pagerduty: PagerDutyWebhooks | None = None,
) -> IntakeDeps:
    """The intake's parts for one process: keys from ``engine``, shared state in ``redis_client``;
    ``slack_clicks`` when a Slack app's signing secret is configured, ``pagerduty`` when PagerDuty's
    webhook secrets are."""
    limits = config.intake
    shared = SharedState(redis_client, open_run_ttl_s=limits.open_run_ttl_s)
    return IntakeDeps(
        config=config,
        keys=KeyCache(engine),
        groups=ReportGroups(shared, lambda: BrokerPublisher(broker_url), max_queued=limits.max_queued_reports),
        rejections=RejectionLog(engine),
        addresses=AddressBuckets(limits.refusal_rate_per_s, limits.refusal_burst),
        slack=slack_clicks,
        pagerduty=pagerduty,
    )
