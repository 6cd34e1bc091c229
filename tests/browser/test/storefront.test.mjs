// The storefront in Chromium: a customer's journey and an admin's, each
// checked on the page and in what the API stored.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  API_URL, PASSWORD, admin, call, checkAccessibility, closeBrowser, createProduct, login, noPageErrors,
  openShop, page as newPage, readmeScreenshot, register, screenshot, unique,
} from "../lib/harness.mjs";

let shopAdmin;
let category;
let pen;
let ink;

before(async () => {
  shopAdmin = await admin();
  category = unique("Stationery ");
  pen = await createProduct(shopAdmin.token, { name: "Fountain pen", price: 19.99, category, stock: 5, description: "Writes smoothly." });
  ink = await createProduct(shopAdmin.token, { name: "Ink bottle", price: 4.5, category, stock: 7 });
});

after(closeBrowser);

const heading = (page, text) => page.locator("main h1", { hasText: text }).waitFor();
const statusSays = (page, text) => page.locator("#status", { hasText: text }).waitFor();
const stockOf = async (id) => (await call("GET", `/products/${id}`)).body.stock;

/** Logs `name` in through the login form the page shows, and waits for the products it lands on. */
async function logInOnPage(page, name) {
  await heading(page, "Log in");
  await page.getByLabel("Username or email", { exact: true }).fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  await heading(page, "Products");
}

test("a customer registers, logs in, orders two products once, sees the order and cancels it", async () => {
  const page = await newPage();
  const name = unique("buyer");

  await openShop(page);
  await heading(page, "Products");
  await checkAccessibility(page, "products");
  await screenshot(page, "customer-products");

  // Register: a field the API refuses is named next to that field.
  await page.getByRole("link", { name: "Register", exact: true }).click();
  await heading(page, "Register");
  await page.getByLabel("Username", { exact: true }).fill(name);
  await page.getByLabel("Email", { exact: true }).fill(`${name}@browser.example`);
  await page.getByLabel(/^Password/).fill("short");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  const passwordError = page.locator('[data-error-for="password"]');
  await passwordError.filter({ hasText: /\S/ }).waitFor();
  assert.match(await passwordError.textContent(), /8/);
  assert.equal(await page.getByLabel(/^Password/).getAttribute("aria-invalid"), "true");
  await checkAccessibility(page, "register with an error");
  await screenshot(page, "customer-register-error");
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole("button", { name: "Register", exact: true }).click();
  await statusSays(page, "Your account is ready");
  await page.getByText(`Signed in as ${name}`).waitFor();

  // Log out and in again, through the login form.
  await page.getByRole("button", { name: "Log out", exact: true }).click();
  await page.getByRole("link", { name: "Log in", exact: true }).click();
  await heading(page, "Log in");
  await page.getByLabel("Username or email", { exact: true }).fill(name);
  await page.getByLabel("Password", { exact: true }).fill("not the password");
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.locator(".form-error", { hasText: /\S/ }).waitFor();
  await checkAccessibility(page, "log in with an error");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  await checkAccessibility(page, "signed in");
  await screenshot(page, "customer-signed-in");

  // Two products of one category into the cart.
  await page.getByRole("button", { name: new RegExp(`^${category} \\(2\\)$`) }).click();
  await heading(page, `Products: ${category}`);
  await readmeScreenshot(page, "storefront");
  await page.getByRole("button", { name: "Add to cart: Fountain pen", exact: true }).click();
  await page.getByRole("button", { name: "Add to cart: Ink bottle", exact: true }).click();
  await page.getByRole("button", { name: "Add to cart: Ink bottle", exact: true }).click();
  await page.getByRole("link", { name: "Cart (3)", exact: true }).click();
  await heading(page, "Your cart");
  assert.match(await page.locator("tfoot").textContent(), /28\.99/);
  await checkAccessibility(page, "cart");
  await screenshot(page, "customer-cart");

  // A double click places one order.
  await page.getByRole("button", { name: "Place order", exact: true }).dblclick();
  await heading(page, "My orders");
  await statusSays(page, "Order placed: 28.99");
  const token = await page.evaluate(() => sessionStorage.getItem("shop.token"));
  const stored = await call("GET", "/orders", { token });
  assert.equal(stored.status, 200);
  assert.equal(stored.body.items.length, 1, "one order for a double click");
  const order = stored.body.items[0];
  assert.equal(order.totalPrice, 28.99);
  assert.equal(order.status, "created");
  assert.deepEqual(order.products.map((l) => [l.name, l.quantity]), [["Fountain pen", 1], ["Ink bottle", 2]]);
  assert.equal(await stockOf(pen.id), 4);
  assert.equal(await stockOf(ink.id), 5);
  const card = page.locator(`[data-order-id="${order.id}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /created/);
  assert.match(await card.textContent(), /28\.99/);
  assert.equal(await page.locator("#cart-link").textContent(), "Cart (0)");
  await checkAccessibility(page, "my orders");
  await screenshot(page, "customer-ordered");

  // Cancel it: the page shows it, the API stored it, the stock came back.
  await card.getByRole("button", { name: "Cancel order", exact: true }).click();
  await statusSays(page, "The order is cancelled.");
  await page.locator(`[data-order-id="${order.id}"] .badge`, { hasText: "cancelled" }).waitFor();
  assert.equal((await call("GET", `/orders/${order.id}`, { token })).body.status, "cancelled");
  assert.equal(await stockOf(pen.id), 5);
  assert.equal(await stockOf(ink.id), 7);
  await screenshot(page, "customer-cancelled");
  noPageErrors(page);
});

test("an admin creates, edits and archives a product, and ships an order", async () => {
  const page = await newPage();
  await openShop(page, "#/login");
  await logInOnPage(page, shopAdmin.name);
  await page.getByRole("link", { name: "Admin", exact: true }).click();
  await heading(page, "Admin");
  await checkAccessibility(page, "admin");

  // Create: a bad price is named next to the price; then a good one.
  const name = unique("Notebook ");
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Price", { exact: true }).fill("3.999");
  await page.getByLabel("Category", { exact: true }).fill(category);
  await page.getByLabel(/^Stock/).fill("12");
  await page.getByRole("button", { name: "Create product", exact: true }).click();
  const priceError = page.locator('[data-error-for="price"]');
  await priceError.filter({ hasText: /\S/ }).waitFor();
  assert.match(await priceError.textContent(), /decimal/);
  await screenshot(page, "admin-price-error");
  await page.getByLabel("Price", { exact: true }).fill("3.95");
  await page.getByRole("button", { name: "Create product", exact: true }).click();
  await statusSays(page, `${name} is for sale.`);
  const listed = (await call("GET", `/products?category=${encodeURIComponent(category)}`)).body.items;
  const created = listed.find((p) => p.name === name);
  assert.ok(created, "the product is stored");
  assert.equal(created.price, 3.95);
  assert.equal(created.stock, 12);
  await screenshot(page, "admin-created");

  // Edit, with the product's ETag as If-Match.
  await page.getByRole("link", { name: `Edit ${name}`, exact: true }).click();
  await heading(page, `Edit ${name}`);
  await page.getByLabel("Price", { exact: true }).fill("4.25");
  await page.getByLabel("Description", { exact: true }).fill("Squared paper.");
  await checkAccessibility(page, "edit product");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await statusSays(page, `${name} is saved.`);
  const edited = (await call("GET", `/products/${created.id}`)).body;
  assert.equal(edited.price, 4.25);
  assert.equal(edited.description, "Squared paper.");
  await screenshot(page, "admin-edited");

  // A stale edit is refused and said so: someone changed it meanwhile.
  await page.getByRole("link", { name: `Edit ${name}`, exact: true }).click();
  await heading(page, `Edit ${name}`);
  const fresh = await call("GET", `/products/${created.id}`);
  const changed = await call("PATCH", `/products/${created.id}`, {
    token: shopAdmin.token, body: { price: 4.5 }, headers: { "if-match": fresh.headers.get("etag") },
  });
  assert.equal(changed.status, 200);
  await page.getByLabel("Price", { exact: true }).fill("9.99");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await page.locator(".form-error", { hasText: /\S/ }).waitFor();
  assert.equal((await call("GET", `/products/${created.id}`)).body.price, 4.5);
  await page.getByRole("link", { name: "Back to the products", exact: true }).click();
  await heading(page, "Admin");

  // Archive.
  await page.getByRole("button", { name: `Archive ${name}`, exact: true }).click();
  await statusSays(page, `${name} is archived.`);
  assert.equal((await call("GET", `/products/${created.id}`)).status, 404);
  await screenshot(page, "admin-archived");

  // Ship a customer's order: created → paid → shipped.
  const buyer = unique("buyer");
  await register(buyer);
  const buyerToken = await login(buyer);
  const placed = await call("POST", "/orders", {
    token: buyerToken, body: { products: [{ productId: pen.id, quantity: 1 }] }, headers: { "idempotency-key": unique("k") },
  });
  assert.equal(placed.status, 201);
  await page.getByRole("link", { name: "Orders: set their status", exact: true }).click();
  await heading(page, "All orders");
  const card = page.locator(`[data-order-id="${placed.body.id}"]`);
  for (const status of ["paid", "shipped"]) {
    await card.getByRole("combobox", { name: "New status", exact: true }).selectOption(status);
    await card.getByRole("button", { name: "Set status", exact: true }).click();
    await statusSays(page, `The order is ${status}.`);
    await page.locator(`[data-order-id="${placed.body.id}"] .badge`, { hasText: status }).waitFor();
  }
  const shipped = (await call("GET", `/orders/${placed.body.id}`, { token: buyerToken })).body;
  assert.equal(shipped.status, "shipped");
  assert.deepEqual(shipped.statusHistory.map((s) => s.status), ["created", "paid", "shipped"]);
  await checkAccessibility(page, "all orders");
  await screenshot(page, "admin-shipped");
  noPageErrors(page);
});

test("a category pages through its products, twelve at a time, newest first", async () => {
  const shelf = unique("Shelf ");
  const names = [];
  for (let i = 1; i <= 13; i += 1) {
    names.push(`Card ${String(i).padStart(2, "0")}`);
    await createProduct(shopAdmin.token, { name: names.at(-1), price: 1, category: shelf });
  }
  const page = await newPage();
  await openShop(page, `#/products?category=${encodeURIComponent(shelf)}`);
  await heading(page, `Products: ${shelf}`);
  const shown = () => page.locator(".card h3").allTextContents();
  assert.deepEqual(await shown(), names.slice(1).reverse());
  await checkAccessibility(page, "a category's first page");
  await page.getByRole("link", { name: "Next page", exact: true }).click();
  await page.locator(".card h3", { hasText: "Card 01" }).waitFor();
  assert.deepEqual(await shown(), ["Card 01"]);
  assert.equal(await page.getByRole("link", { name: "Next page", exact: true }).count(), 0);
  await page.getByRole("link", { name: "First page", exact: true }).click();
  await page.locator(".card h3", { hasText: "Card 13" }).waitFor();
  assert.equal((await shown()).length, 12);
  noPageErrors(page);
});

test("an order whose answer was lost is placed once when the buyer tries again", async () => {
  const page = await newPage();
  const name = unique("retry");
  await register(name);
  await openShop(page, "#/login");
  await logInOnPage(page, name);
  await page.getByRole("button", { name: new RegExp(`^${category} \\(`) }).click();
  await heading(page, `Products: ${category}`);
  await page.getByRole("button", { name: "Add to cart: Fountain pen", exact: true }).click();
  await page.getByRole("link", { name: "Cart (1)", exact: true }).click();
  await heading(page, "Your cart");

  // The first order reaches the shop, but its answer never reaches the page.
  const keys = [];
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url().endsWith("/orders")) keys.push(request.headers()["idempotency-key"]);
  });
  let lost = false;
  page.expected.push(/ERR_CONNECTION_RESET/);
  await page.route("**/orders", async (route) => {
    if (route.request().method() !== "POST" || lost) return route.continue();
    lost = true;
    const reached = await route.fetch();
    assert.equal(reached.status(), 201);
    await route.abort("connectionreset");
  });
  const stockBefore = await stockOf(pen.id);
  await page.getByRole("button", { name: "Place order", exact: true }).click();
  await page.locator(".form-error", { hasText: "cannot be reached" }).waitFor();
  await screenshot(page, "retry-answer-lost");
  assert.equal(await page.locator("#cart-link").textContent(), "Cart (1)", "the cart is kept");

  const replayed = page.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/orders"));
  await page.getByRole("button", { name: "Place order", exact: true }).click();
  assert.equal((await replayed).headers()["idempotent-replayed"], "true");
  await heading(page, "My orders");
  assert.equal(keys.length, 2);
  assert.ok(keys[0], "the order carried a key");
  assert.equal(keys[1], keys[0], "the retry carried the same key");
  const token = await page.evaluate(() => sessionStorage.getItem("shop.token"));
  assert.equal((await call("GET", "/orders", { token })).body.items.length, 1);
  assert.equal(await stockOf(pen.id), stockBefore - 1, "one unit reserved");
  noPageErrors(page);
});

test("the storefront served from another origin works through the API's CORS settings", async () => {
  const { createServer } = await import("node:http");
  // A second origin that serves the storefront's files and says where the API is.
  const server = createServer(async (request, response) => {
    const url = new URL(request.url, "http://x");
    if (url.pathname === "/shop/config.json") {
      response.writeHead(200, { "content-type": "application/json" });
      return response.end(JSON.stringify({ api: API_URL }));
    }
    const upstream = await fetch(API_URL + url.pathname);
    response.writeHead(upstream.status, {
      "content-type": upstream.headers.get("content-type") || "text/plain",
      "content-security-policy": `default-src 'self'; img-src 'self' data:; connect-src 'self' ${API_URL}; style-src 'self'`,
    });
    response.end(Buffer.from(await upstream.arrayBuffer()));
  });
  // The port the API's CORS settings name (scripts/test passes it to both).
  const port = Number(process.env.STOREFRONT_PORT || 0);
  assert.ok(port > 0, "STOREFRONT_PORT must name the second origin's port");
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const origin = `http://localhost:${server.address().port}`;
  try {
    const page = await newPage();
    const name = unique("elsewhere");
    await register(name);
    await openShop(page, `#/products?category=${encodeURIComponent(category)}`, origin);
    await page.getByRole("button", { name: "Add to cart: Ink bottle", exact: true }).waitFor();
    await page.goto(`${origin}/#/login`);
    await logInOnPage(page, name);
    await page.getByRole("button", { name: new RegExp(`^${category} \\(`) }).click();
    await heading(page, `Products: ${category}`);
    await page.getByRole("button", { name: "Add to cart: Ink bottle", exact: true }).click();
    await page.getByRole("link", { name: "Cart (1)", exact: true }).click();
    await page.getByRole("button", { name: "Place order", exact: true }).click();
    await heading(page, "My orders");
    const token = await page.evaluate(() => sessionStorage.getItem("shop.token"));
    const orders = (await call("GET", "/orders", { token })).body.items;
    assert.equal(orders.length, 1);
    assert.equal(orders[0].products[0].productId, ink.id);
    await screenshot(page, "other-origin-ordered");
    noPageErrors(page);
  } finally {
    server.close();
  }
});
