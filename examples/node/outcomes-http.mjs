// Flow outcomes to relops' HTTP intake with fetch() (Node 18+, no dependency).
//   RELOPS_INTAKE_URL=http://127.0.0.1:8081 RELOPS_KEY=rlk_... node outcomes-http.mjs [batch-id]
import { randomUUID } from "node:crypto";

const intake = process.env.RELOPS_INTAKE_URL ?? "http://127.0.0.1:8081";
// The key goes only to the intake itself: over https, or plain http to this machine (edit this
// line for a private network), and never along a redirect (fetch would follow one by default).
const { protocol, hostname } = new URL(intake);
if (protocol !== "https:" && !["127.0.0.1", "[::1]", "localhost"].includes(hostname)) {
  throw new Error("RELOPS_INTAKE_URL must be https:// (plain http only to this machine): the key would travel unencrypted");
}
const minute = new Date().toISOString().slice(0, 16) + ":00Z"; // the current whole UTC minute
// Your own batch id makes a retry safe: relops counts a batch id once.
const batch = {
  batch_id: process.argv[2] ?? randomUUID(),
  counts: [
    { flow: "checkout", minute, good: 118, bad: 2 },
    { flow: "login", minute, good: 310, bad: 0 },
  ],
};
const response = await fetch(`${intake}/api/v1/outcomes`, {
  method: "POST",
  headers: { Authorization: `Bearer ${process.env.RELOPS_KEY}`, "Content-Type": "application/json" },
  body: JSON.stringify(batch),
  redirect: "error",
  signal: AbortSignal.timeout(10_000),
});
if (response.status !== 202) {
  // 429 and 503 say when to come back (Retry-After); other refusals name the field at fault.
  console.error(`refused: ${response.status} ${await response.text()}`);
  process.exit(1);
}
console.log(JSON.stringify(await response.json()));
