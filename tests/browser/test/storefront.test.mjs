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

test("a customer registers, logs in, orders two products once, sees the order and cancels it", async () => {
  const page = await newPage();
  const name = unique("buyer");

  await openShop(page);
  await heading(page, "Products");
  await checkAccessibility(page, "products");
  await screenshot(page, "customer-products");

  // Register: a field the API refuses is named next to that field.
  await page.getByRole("link", { name: "Register" }).click();
  await heading(page, "Register");
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Email").fill(`${name}@browser.example`);
  await page.getByLabel(/^Password/).fill("short");
  await page.getByRole("button", { name: "Register" }).click();
  const passwordError = page.locator('[data-error-for="password"]');
  await passwordError.filter({ hasText: /\S/ }).waitFor();
  assert.match(await passwordError.textContent(), /8/);
  assert.equal(await page.getByLabel(/^Password/).getAttribute("aria-invalid"), "true");
  await checkAccessibility(page, "register with an error");
  await screenshot(page, "customer-register-error");
  await page.getByLabel(/^Password/).fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();
  await statusSays(page, "Your account is ready");
  await page.getByText(`Signed in as ${name}`).waitFor();

  // Log out and in again, through the login form.
  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("link", { name: "Log in" }).click();
  await heading(page, "Log in");
  await page.getByLabel("Username or email").fill(name);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.locator(".form-error", { hasText: /\S/ }).waitFor();
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByText(`Signed in as ${name}`).waitFor();
  await checkAccessibility(page, "signed in");
  await screenshot(page, "customer-signed-in");

  // Two products of one category into the cart.
  await page.getByRole("button", { name: new RegExp(`^${category} \\(2\\)$`) }).click();
  await heading(page, `Products: ${category}`);
  await readmeScreenshot(page, "storefront");
  await page.getByRole("button", { name: "Add to cart: Fountain pen" }).click();
  await page.getByRole("button", { name: "Add to cart: Ink bottle" }).click();
  await page.getByRole("button", { name: "Add to cart: Ink bottle" }).click();
  await page.getByRole("link", { name: "Cart (3)" }).click();
  await heading(page, "Your cart");
  assert.match(await page.locator("tfoot").textContent(), /28\.99/);
  await checkAccessibility(page, "cart");
  await screenshot(page, "customer-cart");

  // A double click places one order.
  await page.getByRole("button", { name: "Place order" }).dblclick();
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
  await card.getByRole("button", { name: "Cancel order" }).click();
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
  await heading(page, "Log in");
  await page.getByLabel("Username or email").fill(shopAdmin.name);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("link", { name: "Admin" }).click();
  await heading(page, "Admin");
  await checkAccessibility(page, "admin");

  // Create: a bad price is named next to the price; then a good one.
  const name = unique("Notebook ");
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Price").fill("3.999");
  await page.getByLabel("Category").fill(category);
  await page.getByLabel(/^Stock/).fill("12");
  await page.getByRole("button", { name: "Create product" }).click();
  const priceError = page.locator('[data-error-for="price"]');
  await priceError.filter({ hasText: /\S/ }).waitFor();
  assert.match(await priceError.textContent(), /decimal/);
  await screenshot(page, "admin-price-error");
  await page.getByLabel("Price").fill("3.95");
  await page.getByRole("button", { name: "Create product" }).click();
  await statusSays(page, `${name} is for sale.`);
  const listed = (await call("GET", `/products?category=${encodeURIComponent(category)}`)).body.items;
  const created = listed.find((p) => p.name === name);
  assert.ok(created, "the product is stored");
  assert.equal(created.price, 3.95);
  assert.equal(created.stock, 12);
  await screenshot(page, "admin-created");

  // Edit, with the product's ETag as If-Match.
  await page.getByRole("link", { name: `Edit ${name}` }).click();
  await heading(page, `Edit ${name}`);
  await page.getByLabel("Price").fill("4.25");
  await page.getByLabel("Description").fill("Squared paper.");
  await checkAccessibility(page, "edit product");
  await page.getByRole("button", { name: "Save" }).click();
  await statusSays(page, `${name} is saved.`);
  const edited = (await call("GET", `/products/${created.id}`)).body;
  assert.equal(edited.price, 4.25);
  assert.equal(edited.description, "Squared paper.");
  await screenshot(page, "admin-edited");

  // A stale edit is refused and said so: someone changed it meanwhile.
  await page.getByRole("link", { name: `Edit ${name}` }).click();
  await heading(page, `Edit ${name}`);
  const fresh = await call("GET", `/products/${created.id}`);
  const changed = await call("PATCH", `/products/${created.id}`, {
    token: shopAdmin.token, body: { price: 4.5 }, headers: { "if-match": fresh.headers.get("etag") },
  });
  assert.equal(changed.status, 200);
  await page.getByLabel("Price").fill("9.99");
  await page.getByRole("button", { name: "Save" }).click();
  await page.locator(".form-error", { hasText: /\S/ }).waitFor();
  assert.equal((await call("GET", `/products/${created.id}`)).body.price, 4.5);
  await page.getByRole("link", { name: "Back to the products" }).click();
  await heading(page, "Admin");

  // Archive.
  await page.getByRole("button", { name: `Archive ${name}` }).click();
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
  await page.getByRole("link", { name: "Orders: set their status" }).click();
  await heading(page, "All orders");
  const card = page.locator(`[data-order-id="${placed.body.id}"]`);
  for (const status of ["paid", "shipped"]) {
    await card.getByRole("combobox", { name: "New status" }).selectOption(status);
    await card.getByRole("button", { name: "Set status" }).click();
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
      "content-security-policy": `default-src 'self'; connect-src 'self' ${API_URL}; style-src 'self'`,
    });
    response.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://localhost:${server.address().port}`;
  try {
    const page = await newPage();
    const name = unique("elsewhere");
    await register(name);
    await openShop(page, `#/products?category=${encodeURIComponent(category)}`, origin);
    await page.getByRole("button", { name: "Add to cart: Ink bottle" }).waitFor();
    await page.goto(`${origin}/#/login`);
    await heading(page, "Log in");
    await page.getByLabel("Username or email").fill(name);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByText(`Signed in as ${name}`).waitFor();
    await heading(page, "Products");
    await page.getByRole("button", { name: new RegExp(`^${category} \\(`) }).click();
    await heading(page, `Products: ${category}`);
    await page.getByRole("button", { name: "Add to cart: Ink bottle" }).click();
    await page.getByRole("link", { name: "Cart (1)" }).click();
    await page.getByRole("button", { name: "Place order" }).click();
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
