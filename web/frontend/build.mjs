// Copies uPlot's distribution and the dashboard sources into the Python
// package (src/watchkeeper/web/static/), which is committed so that
// `pip install` needs no npm. Run with `make frontend`.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "src", "watchkeeper", "web", "static");
mkdirSync(out, { recursive: true });
const uplot = join(here, "node_modules", "uplot", "dist");
copyFileSync(join(uplot, "uPlot.iife.min.js"), join(out, "uPlot.iife.min.js"));
copyFileSync(join(uplot, "uPlot.min.css"), join(out, "uPlot.min.css"));
copyFileSync(join(here, "node_modules", "uplot", "LICENSE"), join(out, "uPlot.LICENSE"));
for (const f of ["dashboard.js", "dashboard.css"]) {
  copyFileSync(join(here, "src", f), join(out, f));
}
const version = JSON.parse(readFileSync(join(here, "node_modules", "uplot", "package.json"))).version;
writeFileSync(join(out, "VERSION"), `uPlot ${version}\n`);
console.log(`built ${out} (uPlot ${version})`);
