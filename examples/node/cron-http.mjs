// A job's run reported to relops' HTTP intake with fetch(): /start before, the job's own URL
// (success) or /fail after. Without a run id the intake pairs the start with the next end.
//   RELOPS_INTAKE_URL=http://127.0.0.1:8081 RELOPS_KEY=rlk_... node cron-http.mjs nightly-export
const intake = process.env.RELOPS_INTAKE_URL ?? "http://127.0.0.1:8081";
const job = process.argv[2] ?? "nightly-export";
// The key goes only to the intake itself: over https, or plain http to this machine (edit this
// line for a private network), and never along a redirect (fetch would follow one by default).
const { protocol, hostname } = new URL(intake);
if (protocol !== "https:" && !["127.0.0.1", "[::1]", "localhost"].includes(hostname)) {
  throw new Error("RELOPS_INTAKE_URL must be https:// (plain http only to this machine): the key would travel unencrypted");
}
const headers = { Authorization: `Bearer ${process.env.RELOPS_KEY}`, "Content-Type": "text/plain" };

async function ping(suffix, body) {
  const response = await fetch(`${intake}/api/v1/cron/${encodeURIComponent(job)}${suffix}`, {
    method: "POST", headers, body, redirect: "error", signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 202) throw new Error(`refused: ${response.status} ${await response.text()}`);
  return response.json();
}

await ping("/start");
try {
  const rows = 42; // the job's work goes here
  console.log(JSON.stringify(await ping("", `exported ${rows} rows`)));
} catch (error) {
  await ping("/fail", String(error?.stack ?? error));
  throw error;
}
