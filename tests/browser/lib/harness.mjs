// What every browser test shares: the API (to seed and to check what was
// stored), Chromium through Playwright, axe-core, and screenshots.
//
// Environment: API_URL (the runner serving template.yaml), PROMOTE_CMD (the
// operator command that makes a user an admin), CHROMIUM (the browser;
// default /usr/bin/chromium), ARTIFACTS (where screenshots go), and
// SCREENSHOTS_DIR (when set, the README's screenshots are written there), and
// STOREFRONT_PORT (the port of the second origin the storefront is served
// from; the API's CORS settings must allow http://localhost:STOREFRONT_PORT).

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

export const API_URL = (process.env.API_URL || "").replace(/\/+$/, "");
if (!API_URL) throw new Error("API_URL must name the running shop");
const ARTIFACTS = process.env.ARTIFACTS || path.resolve("artifacts");
mkdirSync(ARTIFACTS, { recursive: true });
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export const PASSWORD = "correct horse battery staple";

/** A name no other run has used. */
export function unique(prefix) {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

/** One API call: `{status, headers, body}`. */
export async function call(method, route, { body, token, headers = {}, base = API_URL } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (token) init.headers.authorization = `Bearer ${token}`;
  const response = await fetch(base + route, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

export async function register(username) {
  const answer = await call("POST", "/users/register", {
    body: { username, email: `${username}@browser.example`, password: PASSWORD },
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

export async function login(username) {
  const answer = await call("POST", "/users/login", { body: { username, password: PASSWORD } });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  return answer.body.accessToken;
}

/** A new admin: registered, promoted by the operator command, logged in. */
export async function admin() {
  const name = unique("admin");
  await register(name);
  const [command, ...args] = (process.env.PROMOTE_CMD || "").split(" ").filter(Boolean);
  assert.ok(command, "PROMOTE_CMD must name the operator command");
  execFileSync(command, [...args, name], { stdio: "pipe" });
  return { name, token: await login(name) };
}

export async function createProduct(token, product) {
  const answer = await call("POST", "/products", { token, body: { description: "", ...product } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body;
}

let browser;

/** A fresh browser context, its own storage, with the pages' content security policy in force. */
export async function page({ width = 1280, height = 900 } = {}) {
  browser ??= await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.problems = [];
  // Console errors a test provokes on purpose, as regular expressions.
  page.expected = [];
  page.on("pageerror", (error) => page.problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // The browser logs every 4xx answer; the journeys provoke some on purpose
    // and check what the page says of them. Anything else is a problem.
    const clientError = /^Failed to load resource: the server responded with a status of 4\d\d/;
    const expected = [clientError, ...page.expected].some((pattern) => pattern.test(message.text()));
    if (message.type() === "error" && !expected) page.problems.push(`console: ${message.text()}`);
  });
  return page;
}

export async function closeBrowser() {
  await browser?.close();
  browser = undefined;
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function checkAccessibility(page, what) {
  // Evaluated through the DevTools protocol, which the page's policy does not govern.
  await page.evaluate(AXE);
  const results = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const described = bad.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")})`);
  assert.deepEqual(described, [], `${what}: accessibility violations`);
}

let shot = 0;
const FILE = path.basename(process.argv[1] || "test", ".test.mjs");
/** A screenshot of the step, named after its test file and numbered in the order taken. */
export async function screenshot(page, name) {
  shot += 1;
  await page.screenshot({ path: path.join(ARTIFACTS, `${FILE}-${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

/** The README's picture of a page, when SCREENSHOTS_DIR asks for them. */
export async function readmeScreenshot(page, name) {
  const dir = process.env.SCREENSHOTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

/** Opens the storefront at `hash` and waits until it has drawn. */
export async function openShop(page, hash = "", base = API_URL) {
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForFunction(() => !document.querySelector("main[aria-busy]"));
}

/** Follows a link of the page's navigation, and waits for its view. */
export async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction(() => !document.querySelector("main[aria-busy]"));
}

export function noPageErrors(page) {
  assert.deepEqual(page.problems, [], "the page logged errors");
}
