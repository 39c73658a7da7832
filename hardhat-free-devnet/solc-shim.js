#!/usr/bin/env node
// A solc-compatible command for py-solc-x and `forge build --use`, backed by the pinned npm
// `solc` (official emscripten build). Answers `--version` and `--standard-json` (JSON on stdin)
// and resolves imports from disk: the project root, then node_modules (for @openzeppelin/...).
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const args = process.argv.slice(2);
if (args.includes("--version")) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
  process.exit(0);
}
if (!args.includes("--standard-json")) {
  process.stderr.write("solc-shim: only --version and --standard-json are supported\n");
  process.exit(2);
}
const roots = [process.cwd(), path.join(__dirname, "node_modules")];
const allowIdx = args.indexOf("--allow-paths");
if (allowIdx >= 0 && args[allowIdx + 1]) roots.push(...args[allowIdx + 1].split(","));
const baseIdx = args.indexOf("--base-path");
if (baseIdx >= 0 && args[baseIdx + 1]) roots.unshift(args[baseIdx + 1]);
function findImports(p) {
  for (const root of roots) {
    const full = path.isAbsolute(p) ? p : path.join(root, p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: `File not found: ${p}` };
}
const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImports }));
