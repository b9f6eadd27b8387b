// Spans to relops' intake with OpenTelemetry's Node SDK and its OTLP/HTTP exporter: relops counts
// the spans of a flow (its [flows.spans] rules) as good or bad outcomes. In a service the spans come
// from instrumentation; here a few checkout requests are made by hand, so the counts are known.
//   RELOPS_INTAKE_URL=http://127.0.0.1:8081 RELOPS_KEY=rlk_... node traces-otlp.mjs [ok] [5xx] [errors]
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";

const intake = process.env.RELOPS_INTAKE_URL ?? "http://127.0.0.1:8081";
// The key goes only to the intake itself: over https, or plain http to this machine (edit this
// line for a private network).
const { protocol, hostname } = new URL(intake);
if (protocol !== "https:" && !["127.0.0.1", "[::1]", "localhost"].includes(hostname)) {
  throw new Error("RELOPS_INTAKE_URL must be https:// (plain http only to this machine): the key would travel unencrypted");
}
const sdk = new NodeSDK({
  resource: resourceFromAttributes({ "service.name": "checkout-api" }), // [flows.spans] service
  traceExporter: new OTLPTraceExporter({
    url: `${intake}/v1/traces`, // OTLP/HTTP's path: the exporter needs only this and the header
    headers: { Authorization: `Bearer ${process.env.RELOPS_KEY}` },
  }),
  instrumentations: [],
});
sdk.start();

const tracer = trace.getTracer("relops-example");
function request(status, { error = false, kind = SpanKind.SERVER } = {}) {
  const attributes = { "http.route": "/api/checkout", "http.response.status_code": status };
  tracer.startActiveSpan("POST /api/checkout", { kind, attributes }, (span) => {
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: "payment declined" });
    span.end();
  });
}
const [ok, serverErrors, errors] = process.argv.slice(2).map(Number);
for (let i = 0; i < (ok ?? 10); i++) request(200); // good
for (let i = 0; i < (serverErrors ?? 2); i++) request(503); // bad: bad_when status code >= 500
for (let i = 0; i < (errors ?? 1); i++) request(200, { error: true }); // bad: status ERROR
request(200, { kind: SpanKind.CLIENT }); // a client span: no flow takes it (kinds: server, consumer)

await sdk.shutdown(); // exports what the batch processor holds: call it before the process exits
console.log("exported");
