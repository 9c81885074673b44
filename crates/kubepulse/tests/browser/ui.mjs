// Browser test of the KubePulse UI, run by crates/kubepulse/tests/browser.rs against a real
// `kubepulse serve` (its demo cluster running a scheduled memory leak at high --speed).
// Debian's chromium driven by playwright-core (executablePath: nothing is downloaded), axe-core for
// accessibility. Prints one JSON line of results; exits non-zero on the first failed check.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
};
const BASE = env("KUBEPULSE_URL");
const TOKEN = env("KUBEPULSE_TOKEN", "");
const LEAK = env("KUBEPULSE_LEAK_TARGET");
const OUT = env("KUBEPULSE_ARTEFACTS");
const CHROMIUM = env("KUBEPULSE_CHROMIUM", "/usr/bin/chromium");
const DEADLINE_MS = Number(env("KUBEPULSE_DEADLINE_MS", "45000"));
mkdirSync(OUT, { recursive: true });

const started = Date.now();
const results = {};
function check(ok, message) {
  if (!ok) {
    console.error("FAILED: " + message);
    console.log(JSON.stringify({ ok: false, failed: message, results }));
    process.exit(1);
  }
}
const api = async (path) => (await fetch(BASE + path)).json();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  // axe-core is injected by the test: the page's own CSP would (rightly) refuse an inline script.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  let transferred = 0;
  page.on("response", async (r) => {
    try { transferred += (await r.body()).length; } catch (_) { /* redirects have no body */ }
  });

  // 1. The fleet page loads and renders, with no console error.
  const t0 = Date.now();
  await page.goto(BASE + "/ui/");
  await page.waitForSelector("#fleet-rows tr a");
  results.first_render_ms = Date.now() - t0;

  // 2. Before the incident: the leaking target rises to the top with a rising probability.
  let before = null;
  while (Date.now() - started < DEADLINE_MS) {
    const d = await api("/api/v1/target?name=" + encodeURIComponent(LEAK));
    const first = await page.locator("#fleet-rows tr").first().locator("a").textContent();
    const known = d.history.filter((p) => p.p !== null);
    const last = known[known.length - 1];
    const earlier = known[Math.max(0, known.length - 9)];
    if (d.summary.state === "in_progress") break;
    if (first === LEAK && last.p >= d.threshold && last.p > earlier.p) {
      before = { probability: last.p, earlier: earlier.p, threshold: d.threshold, at: last.t, state: d.summary.state };
      break;
    }
    await sleep(500);
  }
  check(before !== null, `${LEAK} never ranked first with a rising probability above the threshold before its incident`);
  results.before_incident = before;
  await page.screenshot({ path: OUT + "/fleet.png", fullPage: true });

  // 3. ... and the incident confirms it.
  let incidentAt = null;
  while (Date.now() - started < DEADLINE_MS) {
    const d = await api("/api/v1/target?name=" + encodeURIComponent(LEAK));
    if (d.summary.state === "in_progress") { incidentAt = d.summary.since; break; }
    await sleep(500);
  }
  check(incidentAt !== null, `${LEAK}'s incident never started`);
  check(before.at < incidentAt, "the rising probability was not seen before the incident");
  results.lead_seconds = incidentAt - before.at;

  // 4. Names are text: a target named <script>… renders as text and runs nothing.
  const names = await page.locator("#fleet-rows a").allTextContents();
  check(names.some((n) => n.includes("<script>")), "no target name with <script> is shown as text");
  check(await page.locator("#fleet-rows script").count() === 0, "a target name became a <script> element");
  check(await page.evaluate(() => window.__kubepulse_xss === undefined), "a target name ran a script");

  // 5. The target view renders its charts.
  await page.locator("#fleet-rows a", { hasText: LEAK }).first().click();
  await page.waitForSelector("#prob-chart polyline.series");
  await page.waitForSelector("#features svg polyline.series");
  results.feature_charts = await page.locator("#features svg").count();
  // The target view's title is the name as text, too; no element anywhere came from a name.
  const title = await page.locator("#target-title").textContent();
  check(title.includes("<script>"), `the target view's title is not the name as text: ${title}`);
  check(await page.locator("body script").count() === 0, "a <script> element appeared in the page body");
  check(await page.evaluate(() => window.__kubepulse_xss === undefined), "a target name ran a script in the target view");
  check(await page.locator("#prob-chart line.threshold").count() === 1, "no threshold line on the probability chart");
  // serve's demo has no remediation agent: the view says so, with no proposal and no button.
  const remediation = await page.locator("#remediation").textContent();
  check(remediation.startsWith("No remediation agent"), `remediation without an agent: "${remediation}"`);
  check(await page.locator("#proposals li, #decisions li").count() === 0, "proposals shown without an agent");
  await page.screenshot({ path: OUT + "/target.png", fullPage: true });

  // 6. Accessibility: no serious or critical axe-core violation on either view.
  await page.addScriptTag({ content: readFileSync(require.resolve("axe-core/axe.min.js"), "utf8") });
  const axeTarget = await page.evaluate(async () => (await window.axe.run()).violations);
  await page.goto(BASE + "/ui/#/");
  await page.waitForSelector("#fleet-rows tr a");
  await page.addScriptTag({ content: readFileSync(require.resolve("axe-core/axe.min.js"), "utf8") });
  const axeFleet = await page.evaluate(async () => (await window.axe.run()).violations);
  const serious = [...axeTarget, ...axeFleet].filter((v) => v.impact === "serious" || v.impact === "critical");
  results.axe_violations = [...axeTarget, ...axeFleet].map((v) => `${v.id} (${v.impact})`);
  check(serious.length === 0, "axe-core: " + serious.map((v) => `${v.id} (${v.impact}): ${v.help}`).join("; "));

  // 7. Opened straight from an alert's link (a fresh page on the target view): the header is filled too.
  await page.goto("about:blank");
  await page.goto(BASE + "/ui/#/target/" + encodeURIComponent(LEAK));
  await page.waitForSelector("#prob-chart polyline.series");
  const header = await page.locator("#source").textContent();
  check(header.includes("threshold"), `the header is empty on a target opened from a link: "${header}"`);

  // 8. Feedback: "confirmed" on the incident, with the token.
  if (TOKEN) {
    await page.goto(BASE + "/ui/#/target/" + encodeURIComponent(LEAK));
    await page.waitForSelector("#episodes button[data-verdict=confirmed]");
    await page.locator("details.token summary").click();
    await page.fill("#token-input", TOKEN);
    await page.locator("#episodes button[data-verdict=confirmed]").first().click();
    await page.waitForFunction(() => document.getElementById("feedback-status").textContent !== "");
    const status = await page.locator("#feedback-status").textContent();
    check(status.startsWith("Recorded"), "feedback: " + status);
    results.feedback = await page.locator("#feedback-status").textContent();
  }

  results.console_errors = consoleErrors;
  check(consoleErrors.length === 0, "console errors: " + consoleErrors.join(" | "));
  results.transferred_bytes = transferred;
  results.elapsed_ms = Date.now() - started;
  console.log(JSON.stringify({ ok: true, results }));
} finally {
  await browser.close();
}
