// /docs in Chromium: the reference draws every route of the spec, and "Try it
// out" calls this same origin with a bearer token given under "Authorize".

import assert from "node:assert/strict";
import { after, test } from "node:test";

import {
  API_URL, call, checkAccessibility, closeBrowser, login, noPageErrors, page as newPage, readmeScreenshot,
  register, screenshot, unique,
} from "../lib/harness.mjs";

after(closeBrowser);

test("the raw spec is served as JSON and YAML, and /docs draws it", async () => {
  const json = await call("GET", "/openapi.json");
  assert.equal(json.status, 200);
  assert.match(json.headers.get("content-type"), /^application\/json/);
  const yaml = await fetch(`${API_URL}/openapi.yaml`);
  assert.equal(yaml.status, 200);
  assert.match(await yaml.text(), /^openapi: 3/m);

  const page = await newPage();
  await page.goto(`${API_URL}/docs`);
  await page.locator(".opblock").first().waitFor();
  const drawn = await page.locator(".opblock-summary-path").allTextContents();
  const paths = Object.keys(json.body.paths);
  for (const path of ["/users/login", "/products", "/orders/{id}"]) {
    assert.ok(paths.includes(path), path);
    assert.ok(drawn.some((text) => text.replace(/\u200b/g, "") === path), `${path} is drawn`);
  }
  await checkAccessibility(page, "/docs");
  await readmeScreenshot(page, "api-docs");
  await screenshot(page, "docs");
  noPageErrors(page);
});

test("Try it out calls this origin with the token from Authorize", async () => {
  const name = unique("reader");
  await register(name);
  const token = await login(name);
  const page = await newPage();
  await page.goto(`${API_URL}/docs`);
  await page.locator(".opblock").first().waitFor();

  await page.getByRole("button", { name: /Authorize/ }).first().click();
  const dialog = page.locator(".dialog-ux");
  const bearer = dialog.locator(".auth-container", { hasText: "bearerAuth" });
  await bearer.locator("input").fill(token);
  await bearer.getByRole("button", { name: "Apply credentials", exact: true }).click();
  await dialog.getByRole("button", { name: "Close", exact: true }).first().click();

  const operation = page.locator(".opblock", { has: page.locator(".opblock-summary-path", { hasText: /^\/users\/me$/ }) })
    .filter({ has: page.locator(".opblock-summary-method", { hasText: "GET" }) });
  if (!(await operation.locator(".opblock-body").count())) await operation.locator(".opblock-summary").click();
  await operation.getByRole("button", { name: "Try it out", exact: true }).click();
  await operation.getByRole("button", { name: "Execute", exact: true }).click();
  const status = operation.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  assert.equal((await status.textContent()).trim(), "200");
  const shown = await operation.locator(".live-responses-table .microlight").first().textContent();
  assert.match(shown, new RegExp(`"username": "${name}"`));
  const requestUrl = await operation.locator(".request-url pre").textContent();
  assert.equal(requestUrl.trim(), `${API_URL}/users/me`);
  await screenshot(page, "docs-try-it");
  noPageErrors(page);
});
