// A job's run straight to relops' broker with celery-node: relops.cron_run events on the "cron"
// queue, a start and an end with the same run id.
//   RELOPS_BROKER_URL=redis://127.0.0.1:6379/0 node cron-celery.mjs nightly-export
import { randomUUID } from "node:crypto";
import celery from "celery-node";

const broker = process.env.RELOPS_BROKER_URL ?? "redis://127.0.0.1:6379/0";
const client = celery.createClient(broker, broker, "cron");
const job = process.argv[2] ?? "nightly-export";
const runId = randomUUID();
const event = (status, fields) => ({
  name: job, run_id: runId, status, at: new Date().toISOString(),
  duration_ms: null, result: null, error: null, ...fields,
});

await client.isReady();
const started = Date.now();
client.sendTask("relops.cron_run", [], event("started"));
let outcome;
try {
  const rows = 42; // the job's work goes here
  outcome = event("success", { duration_ms: Date.now() - started, result: { rows } });
} catch (error) {
  outcome = event("failure", { duration_ms: Date.now() - started, error: String(error?.stack ?? error) });
}
client.sendTask("relops.cron_run", [], outcome);
await client.isReady(); // see outcomes-celery.mjs: let the publishes out before disconnecting
await client.disconnect();
console.log(JSON.stringify({ run_id: runId, status: outcome.status }));
