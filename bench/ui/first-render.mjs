// Time to first render of the fleet page in headless Chromium (Debian's chromium driven by the
// repository's pinned playwright-core, crates/kubepulse/tests/browser/node_modules). Run by
// bench/ui/first-render.sh against a server already listening at KUBEPULSE_URL.
//
// Each run opens a fresh browser context (empty cache), navigates to /ui/ and stops the clock when the
// first fleet row is in the DOM ("#fleet-rows tr a"). Also reported per run: the browser's own
// navigation-to-row time (performance.now() in the page), the fleet JSON's server time and size
// (Resource Timing), rows and DOM elements on the page. Prints a table and one JSON line.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import os from "node:os";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../crates/kubepulse/tests/browser/package.json"));
const { chromium } = require("playwright-core");

const BASE = process.env.KUBEPULSE_URL;
if (!BASE) throw new Error("set KUBEPULSE_URL");
const RUNS = Number(process.env.RUNS ?? "7");
const CHROMIUM = process.env.KUBEPULSE_CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const runs = [];
try {
  // One warm-up navigation (starts the browser's processes), not counted.
  for (let i = 0; i <= RUNS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const t0 = Date.now();
    await page.goto(BASE + "/ui/");
    await page.waitForSelector("#fleet-rows tr a");
    const wall = Date.now() - t0;
    const inPage = await page.evaluate(() => {
      const fleet = performance.getEntriesByType("resource").find((r) => r.name.includes("/api/v1/fleet"));
      return {
        rendered_ms: performance.now(),
        fleet_server_ms: fleet ? fleet.responseStart - fleet.requestStart : null,
        fleet_bytes: fleet ? fleet.encodedBodySize : null,
        rows: document.querySelectorAll("#fleet-rows tr").length,
        elements: document.getElementsByTagName("*").length,
        counts: document.getElementById("counts")?.textContent ?? "",
      };
    });
    await context.close();
    if (i > 0) runs.push({ wall_ms: wall, ...inPage });
  }
} finally {
  await browser.close();
}
const sorted = (key) => runs.map((r) => r[key]).filter((x) => x !== null).sort((a, b) => a - b);
const median = (xs) => (xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2);
const summary = {};
for (const key of ["wall_ms", "rendered_ms", "fleet_server_ms"]) {
  const xs = sorted(key);
  summary[key] = { median: Math.round(median(xs)), min: Math.round(xs[0]), max: Math.round(xs[xs.length - 1]) };
}
summary.fleet_bytes = runs[0].fleet_bytes;
summary.rows = runs[0].rows;
summary.elements = runs[0].elements;
console.error("run  wall(ms)  in-page(ms)  fleet JSON server(ms)");
runs.forEach((r, i) =>
  console.error(`${String(i + 1).padStart(3)}  ${String(r.wall_ms).padStart(8)}  ${r.rendered_ms.toFixed(0).padStart(11)}  ${(r.fleet_server_ms ?? NaN).toFixed(1).padStart(21)}`));
summary.load_average_1m = Number(os.loadavg()[0].toFixed(2));
console.log(JSON.stringify({ runs: RUNS, summary, first: runs[0] }));
