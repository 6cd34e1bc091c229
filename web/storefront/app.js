// The storefront: a small client of the shop's public API, nothing more.
// Every text from the API goes into the page as text (never as HTML), the
// token lives in this tab's sessionStorage, and the cart in localStorage.

const config = await loadConfig();
const API = config.api.replace(/\/+$/, "");
const PAGE_SIZE = 12;

const state = {
  token: sessionStorage.getItem("shop.token"),
  me: null,
  cart: loadCart(),
};

// ---- the API ---------------------------------------------------------------

/** Where the API is: `shop/config.json` beside the page names it ("" is this origin). */
async function loadConfig() {
  try {
    const response = await fetch("shop/config.json", { cache: "no-cache" });
    if (response.ok) {
      const loaded = await response.json();
      if (typeof loaded.api === "string") return loaded;
    }
  } catch {
    // No config: the API is this origin.
  }
  return { api: "" };
}

/** One call: `{status, headers, body}`, the body parsed when it is JSON. */
async function api(method, path, { body, headers = {} } = {}) {
  const init = { method, headers: { accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (state.token) init.headers.authorization = "Bearer " + state.token;
  let response;
  try {
    response = await fetch(API + path, init);
  } catch {
    return { status: 0, headers: new Headers(), body: { title: "The shop cannot be reached. Check your connection and try again." } };
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { title: text.slice(0, 200) };
  }
  if (response.status === 401 && state.token && path !== "/users/login") {
    signOut("Your session has ended. Please log in again.");
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

// ---- the page --------------------------------------------------------------

/** Builds an element: `h("p", {class: "x"}, "text", child)`. Strings become text nodes. */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const main = document.getElementById("main");
const statusLine = document.getElementById("status");

/** Says how an action went; the message outlives the navigation the action makes. */
function say(message, { error = false } = {}) {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", error);
  statusLine.dataset.fresh = message ? "true" : "";
}

/**
 * Replaces the view: a heading, then the content (nodes, lists of nodes; nulls
 * are skipped). Views get a guarded `show` from `route`, which draws nothing
 * once the reader has moved on to another view.
 */
function showNow(title, ...content) {
  document.title = title + " · Shop";
  main.replaceChildren(h("h1", {}, title), ...content.flat(Infinity).filter((node) => node !== null && node !== undefined));
}

const money = (value) => Number(value).toFixed(2);
const cents = (value) => Math.round(Number(value) * 100);

/** A problem's messages next to the fields it names; the rest above the form. */
function showProblem(form, problem, fallback) {
  for (const old of form.querySelectorAll(".field-error, .form-error")) old.textContent = "";
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const body = problem.body || {};
  const unplaced = [];
  for (const { field, message } of body.errors || []) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (slot) {
      slot.textContent = message;
      const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(`${field}: ${message}`);
    }
  }
  const general = form.querySelector(".form-error");
  const text = unplaced.length ? unplaced.join("; ") : (body.errors ? "" : (body.detail || body.title || fallback));
  if (general) general.textContent = text || "";
  if (problem.status === 429) {
    const wait = problem.headers.get("retry-after");
    if (general && wait) general.textContent += ` Try again in ${wait} s.`;
  }
}

/** A labelled field with the slot its error goes into. */
function field(label, name, attributes = {}) {
  const id = "f-" + name.replace(/[^a-z0-9]/gi, "-");
  const control = attributes.multiline
    ? h("textarea", { id, name, "aria-describedby": id + "-error", ...attributes, multiline: null })
    : h("input", { id, name, "aria-describedby": id + "-error", ...attributes });
  // The error is the control's description, not part of its label (its name).
  return h("div", { class: "field" }, h("label", { for: id }, label), control,
    h("p", { class: "field-error", id: id + "-error", "data-error-for": name }));
}

function formValues(form) {
  return Object.fromEntries(new FormData(form).entries());
}

// ---- who is signed in --------------------------------------------------------

async function loadMe() {
  state.me = null;
  if (state.token) {
    const answer = await api("GET", "/users/me");
    if (answer.status === 200) state.me = answer.body;
  }
  renderNav();
}

function signOut(message) {
  state.token = null;
  state.me = null;
  sessionStorage.removeItem("shop.token");
  // The cart was this user's: the next one starts with none.
  state.cart = { lines: [], key: null };
  localStorage.removeItem("shop.cart");
  renderNav();
  if (message) say(message, { error: true });
}

function renderNav() {
  const signedIn = Boolean(state.me);
  const admin = signedIn && state.me.role === "admin";
  for (const item of document.querySelectorAll("[data-when]")) {
    const when = item.dataset.when;
    item.hidden = !((when === "signed-in" && signedIn) || (when === "signed-out" && !signedIn) || (when === "admin" && admin));
  }
  document.getElementById("who").textContent = signedIn ? `Signed in as ${state.me.username}` : "";
  const count = state.cart.lines.reduce((n, line) => n + line.quantity, 0);
  document.getElementById("cart-link").textContent = `Cart (${count})`;
}

document.getElementById("logout").addEventListener("click", () => {
  signOut();
  say("You are logged out.");
  location.hash = "#/products";
});

// ---- the cart ----------------------------------------------------------------

function loadCart() {
  try {
    const cart = JSON.parse(localStorage.getItem("shop.cart"));
    if (cart && Array.isArray(cart.lines)) return cart;
  } catch {
    // A cart that cannot be read is an empty one.
  }
  return { lines: [], key: null };
}

/** Saves the cart; any change to its lines makes the next order a new one (a new key). */
function saveCart({ linesChanged = true } = {}) {
  if (linesChanged) state.cart.key = null;
  localStorage.setItem("shop.cart", JSON.stringify(state.cart));
  renderNav();
}

function addToCart(product) {
  const line = state.cart.lines.find((l) => l.productId === product.id);
  if (line) line.quantity = Math.min(line.quantity + 1, 1000);
  else state.cart.lines.push({ productId: product.id, name: product.name, price: product.price, quantity: 1 });
  saveCart();
  say(`${product.name} is in your cart.`);
}

// ---- views ---------------------------------------------------------------------

async function viewProducts(params, show = showNow) {
  const category = params.get("category") || "";
  const cursor = params.get("cursor") || "";
  const [categories, page] = await Promise.all([
    api("GET", "/categories"),
    api("GET", `/products?limit=${PAGE_SIZE}` + (category ? `&category=${encodeURIComponent(category)}` : "") +
      (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "")),
  ]);
  if (page.status !== 200) return show("Products", h("p", { class: "form-error" }, page.body?.detail || page.body?.title || "The products cannot be shown."));
  const link = (name) => "#/products" + (name ? "?category=" + encodeURIComponent(name) : "");
  const chips = h("ul", { class: "categories", "aria-label": "Categories" },
    h("li", {}, h("button", { type: "button", class: "secondary", "aria-pressed": String(!category), onclick: () => { location.hash = link(""); } }, "All")),
    (categories.body?.items || []).map((c) => h("li", {},
      h("button", { type: "button", class: "secondary", "aria-pressed": String(c.name === category), onclick: () => { location.hash = link(c.name); } }, `${c.name} (${c.count})`))));
  const cards = h("ul", { class: "products" }, page.body.items.map((p) => h("li", { class: "card", "data-product-id": p.id },
    h("h3", {}, p.name),
    p.description ? h("p", {}, p.description) : null,
    h("p", {}, h("span", { class: "price" }, money(p.price)), " · ", p.category),
    h("p", {}, p.stock === null || p.stock === undefined ? "In stock" : `${p.stock} in stock`),
    h("button", { type: "button", disabled: p.stock === 0, "aria-label": `Add to cart: ${p.name}`, onclick: () => addToCart(p) }, "Add to cart"))));
  const pager = h("div", { class: "pager" },
    cursor ? h("a", { href: link(category) }, "First page") : null,
    page.body.nextCursor ? h("a", { href: link(category) + (category ? "&" : "?") + "cursor=" + encodeURIComponent(page.body.nextCursor) }, "Next page") : null);
  show(category ? `Products: ${category}` : "Products", chips, page.body.items.length ? cards : h("p", {}, "No products here yet."), pager);
}

function viewCart(params, show = showNow) {
  const lines = state.cart.lines;
  if (!lines.length) return show("Your cart", h("p", {}, "Your cart is empty. ", h("a", { href: "#/products" }, "See the products.")));
  const total = lines.reduce((sum, l) => sum + cents(l.price) * l.quantity, 0);
  const rows = lines.map((line, i) => h("tr", {},
    h("td", {}, line.name),
    h("td", { class: "number" }, money(line.price)),
    h("td", { class: "number" }, h("input", {
      type: "number", min: 1, max: 1000, value: line.quantity, "aria-label": `Quantity of ${line.name}`, class: "quantity",
      onchange: (event) => {
        const quantity = Math.max(1, Math.min(1000, Number.parseInt(event.target.value, 10) || 1));
        state.cart.lines[i].quantity = quantity;
        saveCart();
        viewCart();
      },
    })),
    h("td", { class: "number" }, money((cents(line.price) * line.quantity) / 100)),
    h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": `Remove ${line.name}`, onclick: () => { state.cart.lines.splice(i, 1); saveCart(); viewCart(); } }, "Remove"))));
  const form = h("form", { class: "stack", onsubmit: placeOrder }, h("p", { class: "form-error", role: "alert" }),
    state.me ? h("button", { type: "submit", id: "place-order" }, "Place order") : h("p", {}, h("a", { href: "#/login" }, "Log in"), " to place your order."));
  show("Your cart",
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Product"), h("th", { class: "number" }, "Price"), h("th", { class: "number" }, "Quantity"), h("th", { class: "number" }, "Total"), h("th", {}, h("span", { class: "skip" }, "Actions")))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {}, h("th", { colspan: 3 }, "Estimated total"), h("td", { class: "number" }, money(total / 100)), h("td")))),
    h("p", {}, "The shop prices the order when you place it."), form);
}

async function placeOrder(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button[type=submit]");
  if (button.disabled) return;
  // The whole cart holds still while its order is on the way: a change now
  // would make a new key, and a second order.
  const controls = [...main.querySelectorAll("input, button")];
  for (const control of controls) control.disabled = true;
  // One key per cart: a double click, or a retry after a lost answer, is the same order.
  if (!state.cart.key) {
    state.cart.key = crypto.randomUUID();
    saveCart({ linesChanged: false });
  }
  const body = { products: state.cart.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) };
  const answer = await api("POST", "/orders", { body, headers: { "idempotency-key": state.cart.key } });
  for (const control of controls) control.disabled = false;
  if (answer.status === 201) {
    state.cart = { lines: [], key: null };
    saveCart({ linesChanged: false });
    say(`Order placed: ${money(answer.body.totalPrice)} in all.`);
    location.hash = "#/orders";
    return;
  }
  const names = Object.fromEntries(state.cart.lines.map((l) => [l.productId, l.name]));
  const fallback = "The order could not be placed.";
  if (answer.body?.missing) answer.body.detail = "No longer sold: " + answer.body.missing.map((id) => names[id] || id).join(", ") + ". Remove it and try again.";
  if (answer.body?.insufficient) answer.body.detail = "Not enough in stock: " + answer.body.insufficient.map((s) => `${names[s.productId] || s.productId} (${s.available} left)`).join(", ") + ".";
  showProblem(form, answer, fallback);
}

async function viewOrders(params, show = showNow) {
  if (!state.me) return viewLogin(params, show);
  const admin = state.me.role === "admin";
  const cursor = params.get("cursor") || "";
  const answer = await api("GET", "/orders?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
  if (answer.status !== 200) return show("Orders", h("p", { class: "form-error" }, answer.body?.detail || answer.body?.title || "The orders cannot be shown."));
  const orders = answer.body.items.map((order) => orderCard(order, admin));
  const next = answer.body.nextCursor ? h("p", {}, h("a", { href: "#/orders?cursor=" + encodeURIComponent(answer.body.nextCursor) }, "Older orders")) : null;
  show(admin ? "All orders" : "My orders", orders.length ? orders : h("p", {}, "No orders yet."), next);
}

const NEXT_STATUSES = { created: ["paid", "cancelled"], paid: ["shipped", "cancelled"], shipped: ["delivered"] };

function orderCard(order, admin) {
  const form = h("form", { class: "actions", onsubmit: (event) => event.preventDefault() }, h("p", { class: "form-error", role: "alert" }));
  const act = async (method, path, body, done) => {
    for (const b of form.querySelectorAll("button")) b.disabled = true;
    const answer = await api(method, path, { body });
    if (answer.status === 200) {
      say(done);
      card.replaceWith(orderCard(answer.body, admin));
    } else {
      for (const b of form.querySelectorAll("button")) b.disabled = false;
      showProblem(form, answer, "That did not work.");
    }
  };
  if (order.status === "created" || order.status === "paid") {
    form.prepend(h("button", { type: "button", class: "secondary", onclick: () => act("POST", `/orders/${order.id}/cancel`, {}, "The order is cancelled.") }, "Cancel order"));
  }
  if (admin && NEXT_STATUSES[order.status]) {
    const select = h("select", { name: "status", "aria-label": "New status" }, NEXT_STATUSES[order.status].map((s) => h("option", { value: s }, s)));
    form.prepend(select, h("button", { type: "button", onclick: () => act("PATCH", `/orders/${order.id}`, { status: select.value }, `The order is ${select.value}.`) }, "Set status"));
  }
  const card = h("article", { class: "order", "data-order-id": order.id },
    h("header", {}, h("h2", {}, `Order ${order.id.slice(-8)}`), h("span", { class: "badge" }, order.status)),
    h("p", {}, new Date(order.createdAt).toLocaleString(), admin ? ` · buyer ${order.userId.slice(-8)}` : ""),
    h("table", {}, h("tbody", {}, order.products.map((line) => h("tr", {},
      h("td", {}, line.name), h("td", { class: "number" }, `${line.quantity} × ${money(line.unitPrice)}`), h("td", { class: "number" }, money(line.lineTotal))))),
    h("tfoot", {}, h("tr", {}, h("th", { colspan: 2 }, "Total"), h("td", { class: "number" }, money(order.totalPrice))))),
    form);
  return card;
}

function viewLogin(params, show = showNow) {
  const form = h("form", { class: "stack", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const answer = await api("POST", "/users/login", { body: formValues(form) });
    if (answer.status !== 200) return showProblem(form, answer, "Logging in did not work.");
    state.token = answer.body.accessToken;
    sessionStorage.setItem("shop.token", state.token);
    await loadMe();
    say(`Welcome, ${state.me?.username ?? ""}.`);
    // Unless the reader has gone elsewhere meanwhile.
    if (location.hash.startsWith("#/login")) location.hash = state.cart.lines.length ? "#/cart" : "#/products";
  } },
  h("p", { class: "form-error", role: "alert" }),
  field("Username or email", "username", { autocomplete: "username", required: true }),
  field("Password", "password", { type: "password", autocomplete: "current-password", required: true }),
  h("button", { type: "submit" }, "Log in"));
  show("Log in", form, h("p", {}, "No account yet? ", h("a", { href: "#/register" }, "Register.")));
}

function viewRegister(params, show = showNow) {
  const form = h("form", { class: "stack", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const answer = await api("POST", "/users/register", { body: values });
    if (answer.status !== 201) return showProblem(form, answer, "Registering did not work.");
    const login = await api("POST", "/users/login", { body: { username: values.username, password: values.password } });
    if (login.status === 200) {
      state.token = login.body.accessToken;
      sessionStorage.setItem("shop.token", state.token);
      await loadMe();
    }
    say(`Welcome, ${answer.body.username}. Your account is ready.`);
    if (location.hash.startsWith("#/register")) location.hash = "#/products";
  } },
  h("p", { class: "form-error", role: "alert" }),
  field("Username", "username", { autocomplete: "username", required: true }),
  field("Email", "email", { type: "email", autocomplete: "email", required: true }),
  field("Password (8 to 128 characters)", "password", { type: "password", autocomplete: "new-password", required: true }),
  h("button", { type: "submit" }, "Register"));
  show("Register", form);
}

// ---- admin: products -----------------------------------------------------------------

function productFields(product = {}) {
  return [
    field("Name", "name", { required: true, value: product.name ?? "" }),
    field("Description", "description", { multiline: true }),
    field("Price", "price", { inputmode: "decimal", required: true, value: product.price === undefined ? "" : money(product.price) }),
    field("Category", "category", { required: true, value: product.category ?? "" }),
    field("Stock (empty: not tracked)", "stock", { inputmode: "numeric", value: product.stock ?? "" }),
  ];
}

/** The form's values as a product body: numbers where the API wants numbers. */
function productBody(form) {
  const values = formValues(form);
  const number = (text) => (text.trim() === "" || Number.isNaN(Number(text)) ? text : Number(text));
  return {
    name: values.name,
    description: values.description,
    price: number(values.price),
    category: values.category,
    stock: values.stock.trim() === "" ? null : number(values.stock),
  };
}

async function viewAdmin(params, show = showNow) {
  if (!state.me || state.me.role !== "admin") return show("Admin", h("p", {}, "Only an admin may see this page."));
  const editing = params.get("edit");
  if (editing) return viewEdit(editing, show);
  const form = h("form", { class: "stack", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const answer = await api("POST", "/products", { body: productBody(form) });
    if (answer.status !== 201) return showProblem(form, answer, "The product was not created.");
    say(`${answer.body.name} is for sale.`);
    viewAdmin(new URLSearchParams());
  } }, h("p", { class: "form-error", role: "alert" }), productFields(), h("button", { type: "submit" }, "Create product"));
  const cursor = params.get("cursor") || "";
  const page = await api("GET", "/products?limit=20" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
  const rows = (page.body?.items || []).map((p) => h("tr", { "data-product-id": p.id },
    h("td", {}, p.name), h("td", {}, p.category), h("td", { class: "number" }, money(p.price)), h("td", { class: "number" }, p.stock ?? "—"),
    h("td", {}, h("a", { href: `#/admin?edit=${p.id}`, "aria-label": `Edit ${p.name}` }, "Edit"), " ",
      h("button", { type: "button", class: "secondary", "aria-label": `Archive ${p.name}`, onclick: async (event) => {
        event.target.disabled = true;
        const answer = await api("DELETE", `/products/${p.id}`);
        if (answer.status === 204) {
          say(`${p.name} is archived.`);
          event.target.closest("tr").remove();
        } else {
          event.target.disabled = false;
          say(answer.body?.detail || answer.body?.title || "Archiving did not work.", { error: true });
        }
      } }, "Archive"))));
  show("Admin",
    h("h2", {}, "New product"), form,
    h("h2", {}, "Products"),
    h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Category"), h("th", { class: "number" }, "Price"), h("th", { class: "number" }, "Stock"), h("th", {}, "Actions"))), h("tbody", {}, rows)),
    page.body?.nextCursor ? h("p", {}, h("a", { href: "#/admin?cursor=" + encodeURIComponent(page.body.nextCursor) }, "More products")) : null,
    h("p", {}, h("a", { href: "#/orders" }, "Orders: set their status")));
}

async function viewEdit(id, show = showNow) {
  const answer = await api("GET", `/products/${encodeURIComponent(id)}`);
  if (answer.status !== 200) return show("Edit product", h("p", { class: "form-error" }, "No such product."));
  let etag = answer.headers.get("etag");
  const form = h("form", { class: "stack", novalidate: true, onsubmit: async (event) => {
    event.preventDefault();
    const saved = await api("PATCH", `/products/${encodeURIComponent(id)}`, { body: productBody(form), headers: { "if-match": etag || "" } });
    if (saved.status === 412) {
      saved.body = { detail: "Someone else changed this product meanwhile. Reload it to see their change, then edit again." };
      return showProblem(form, saved, "");
    }
    if (saved.status !== 200) return showProblem(form, saved, "The product was not saved.");
    etag = saved.headers.get("etag");
    say(`${saved.body.name} is saved.`);
    location.hash = "#/admin";
  } }, h("p", { class: "form-error", role: "alert" }), productFields(answer.body), h("button", { type: "submit" }, "Save"));
  form.querySelector("[name=description]").value = answer.body.description;
  show(`Edit ${answer.body.name}`, form, h("p", {}, h("a", { href: "#/admin" }, "Back to the products")));
}

// ---- routing ---------------------------------------------------------------------

const VIEWS = { products: viewProducts, cart: viewCart, orders: viewOrders, login: viewLogin, register: viewRegister, admin: viewAdmin };

/** The navigation that is current: a view still loading for an older one draws nothing. */
let routeCount = 0;

async function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const view = VIEWS[path] || viewProducts;
  const mine = ++routeCount;
  main.setAttribute("aria-busy", "true");
  try {
    const show = (...args) => {
      if (mine === routeCount) showNow(...args);
    };
    await view(new URLSearchParams(query || ""), show);
  } finally {
    if (mine === routeCount) main.removeAttribute("aria-busy");
  }
}

// Another tab changed the cart: this one shows it as it is now.
window.addEventListener("storage", (event) => {
  if (event.key !== "shop.cart") return;
  state.cart = loadCart();
  renderNav();
  if (location.hash.startsWith("#/cart")) route();
});

window.addEventListener("hashchange", () => {
  // A message of the action that navigated here stays; an older one goes.
  if (statusLine.dataset.fresh) statusLine.dataset.fresh = "";
  else say("");
  route().then(() => main.focus());
});

await loadMe();
await route();
document.body.dataset.ready = "true";
