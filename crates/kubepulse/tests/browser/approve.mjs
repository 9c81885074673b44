// Browser test of approve/deny in the target view, run by crates/kubepulse/tests/it/browser.rs against
// a real `kubepulse watch --remediate` (approve mode) on Prometheus scraping an accelerated
// `kubepulse simulate --serve` with two scheduled memory leaks. Debian's chromium driven by
// playwright-core (nothing is downloaded). In the page: the agent's proposal for APPROVE appears, the
// operator approves it; the one for DENY, the operator denies it. Then the simulator's
// GET /api/v1/interventions must hold APPROVE's action and nothing for DENY. Prints one JSON line of
// results; exits non-zero on the first failed check.
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
};
const BASE = env("KUBEPULSE_URL");
const SIM = env("KUBEPULSE_SIM_URL");
const TOKEN = env("KUBEPULSE_TOKEN");
const APPROVE = env("KUBEPULSE_APPROVE_TARGET");
const DENY = env("KUBEPULSE_DENY_TARGET");
const OUT = env("KUBEPULSE_ARTEFACTS");
const OPERATOR = "alice@example.com";
const CHROMIUM = env("KUBEPULSE_CHROMIUM", "/usr/bin/chromium");
const DEADLINE_MS = Number(env("KUBEPULSE_DEADLINE_MS", "75000"));
// How long (wall ms) the denied action is watched for after the approved one was applied.
const SETTLE_MS = Number(env("KUBEPULSE_SETTLE_MS", "4000"));
mkdirSync(OUT, { recursive: true });

const started = Date.now();
const left = () => Math.max(1000, DEADLINE_MS - (Date.now() - started));
const results = {};
function check(ok, message) {
  if (!ok) {
    console.error("FAILED: " + message);
    console.log(JSON.stringify({ ok: false, failed: message, results }));
    process.exit(1);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.json();
}
const interventions = async () => getJson(SIM + "/api/v1/interventions");
const about = (target) => (r) => r.intervention && r.intervention.target === target;

// watch is up and knows both targets before the browser starts (a target view opened earlier would
// rightly answer 404, which the browser logs as a console error).
while (true) {
  try {
    await getJson(BASE + "/api/v1/target?name=" + encodeURIComponent(APPROVE));
    await getJson(BASE + "/api/v1/target?name=" + encodeURIComponent(DENY));
    break;
  } catch (_) { /* not yet */ }
  check(Date.now() - started < DEADLINE_MS, "watch never showed both targets");
  await sleep(200);
}
results.targets_known_after_ms = Date.now() - started;

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  // Opens TARGET's view, waits for the agent's proposal, clicks `verdict` on it; returns its id.
  async function decide(target, verdict) {
    await page.goto(BASE + "/ui/#/target/" + encodeURIComponent(target));
    const button = page.locator(`#proposals li[data-status=pending] button[data-verdict=${verdict}]`).first();
    try {
      await button.waitFor({ timeout: left() });
    } catch (_) {
      const actions = await getJson(BASE + "/api/v1/actions");
      check(false, `no proposal for ${target} appeared in the target view; actions: ${JSON.stringify(actions).slice(0, 2000)}`);
    }
    const item = button.locator("xpath=..");
    const id = Number(await item.getAttribute("data-id"));
    results[`${verdict}_proposal`] = await item.locator("span").first().textContent();
    results[`${verdict}_seen_after_ms`] = Date.now() - started;
    await button.click();
    await page.waitForFunction(() => document.getElementById("remediation-status").textContent !== "");
    const status = await page.locator("#remediation-status").textContent();
    results[`${verdict}_status`] = status;
    return { id, status };
  }

  // The token and the operator's name are typed once, as an operator would (kept in the tab's
  // sessionStorage).
  await page.goto(BASE + "/ui/#/target/" + encodeURIComponent(APPROVE));
  await page.locator("details.token summary").click();
  await page.fill("#token-input", TOKEN);
  await page.locator("#token-input").dispatchEvent("change");
  await page.fill("#user-input", OPERATOR);
  await page.locator("#user-input").dispatchEvent("change");

  // 1. Approve APPROVE's proposal in the page.
  const approved = await decide(APPROVE, "approve");
  check(approved.status.startsWith(`Action ${approved.id} approved`), "approve: " + approved.status);
  check(approved.status.includes(`(by ${OPERATOR})`), "who approved: " + approved.status);
  // The list shows the new status (no button left on it).
  await page.waitForSelector(`#proposals li[data-id="${approved.id}"]:not([data-status=pending])`);
  await page.screenshot({ path: OUT + "/target-approve.png", fullPage: true });

  // 2. Deny DENY's proposal in the page.
  const denied = await decide(DENY, "deny");
  check(denied.status.startsWith(`Action ${denied.id} denied`), "deny: " + denied.status);

  // 3. The approved action reaches the simulator (applied at the agent's next cycle) ...
  let applied = null;
  while (Date.now() - started < DEADLINE_MS) {
    applied = (await interventions()).find(about(APPROVE));
    if (applied) break;
    await sleep(250);
  }
  check(applied, `the approved action on ${APPROVE} never reached the simulator`);
  results.applied = applied;
  // ... and the target view says so in its decisions, with who approved.
  await page.goto(BASE + "/ui/#/target/" + encodeURIComponent(APPROVE));
  await page.waitForSelector(`#proposals li[data-id="${approved.id}"][data-status=applied]`, { timeout: left() });
  await page.waitForSelector("#decisions li[data-outcome=apply]", { timeout: left() });
  results.applied_decision = await page.locator("#decisions li[data-outcome=apply]").first().textContent();
  check(results.applied_decision.includes("approved by " + OPERATOR), "applied: " + results.applied_decision);
  // The agent decides every cycle while a target stays alarmed: repeated decisions are one entry each.
  const outcomes = await page.locator("#decisions li").evaluateAll((lis) =>
    lis.map((li) => li.textContent.replace(/^[^·]*· /, "")));
  results.decisions = outcomes;
  check(outcomes.every((o, i) => i === 0 || o !== outcomes[i - 1]), "repeated entries: " + outcomes.join(" | "));
  await page.screenshot({ path: OUT + "/target-remediation.png", fullPage: true });

  // 4. The denied one never does, though the agent keeps cycling.
  await sleep(SETTLE_MS);
  const all = await interventions();
  check(!all.some(about(DENY)), `the denied action on ${DENY} reached the simulator: ${JSON.stringify(all)}`);
  const actions = await getJson(BASE + "/api/v1/actions");
  const deniedNow = actions.pending.find((p) => p.id === denied.id);
  check(deniedNow && deniedNow.status === "denied", `action ${denied.id} is not denied: ${JSON.stringify(deniedNow)}`);
  check(deniedNow.decided_by === OPERATOR, `who denied: ${deniedNow.decided_by}`);
  results.interventions = all.length;

  results.console_errors = consoleErrors;
  check(consoleErrors.length === 0, "console errors: " + consoleErrors.join(" | "));
  results.elapsed_ms = Date.now() - started;
  console.log(JSON.stringify({ ok: true, results }));
} finally {
  await browser.close();
}
