// Flow outcomes straight to relops' broker with celery-node: the same task and payload a Python
// service sends (relops.record_flow_outcomes on the "ingest" queue).
//   RELOPS_BROKER_URL=redis://127.0.0.1:6379/0 node outcomes-celery.mjs [batch-id]
import { randomUUID } from "node:crypto";
import celery from "celery-node";

const broker = process.env.RELOPS_BROKER_URL ?? "redis://127.0.0.1:6379/0";
const client = celery.createClient(broker, broker, "ingest");
const minute = new Date().toISOString().slice(0, 16) + ":00Z";
const batchId = process.argv[2] ?? randomUUID();

await client.isReady();
client.sendTask("relops.record_flow_outcomes", [], {
  batch_id: batchId, // relops counts a batch id once: resending after a doubtful publish is safe
  counts: [
    { flow: "checkout", minute, good: 118, bad: 2 },
    { flow: "login", minute, good: 310, bad: 0 },
  ],
});
// celery-node publishes once its connection is ready and does not hand back that promise; the
// connection sends commands in order, so disconnecting after it is ready lets the publish out first.
await client.isReady();
await client.disconnect();
console.log(JSON.stringify({ batch_id: batchId }));
