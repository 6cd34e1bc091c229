// The story, part 2: the admin creates products (401 without a token, 403 for a
// customer, 400 for bad money), then anyone lists, pages, filters and fetches them
// and their categories; the admin edits them (If-Match) and archives them.
import assert from 'node:assert/strict';
import { assertNewestFirst, call, describe as show, expectProblem, expectStatus } from '../lib/client.mjs';
import { RUN, need, state, unknownId } from '../lib/state.mjs';

const adminToken = () => need(state.users.root?.token, 'an admin token');
const customerToken = () => need(state.users.alice?.token, 'a customer token');

function productBody(name, price, category = state.category) {
  return { name: `${name} ${RUN}`, description: `The ${name} of run ${RUN}.`, price, category };
}

async function create(key, price, category, extra = {}) {
  const body = { ...productBody(key, price, category), ...extra };
  const answer = await call('POST', '/products', { token: adminToken(), json: body });
  const product = expectStatus(answer, 201);
  const location = answer.headers.get('location') ?? '';
  assert.ok(
    new URL(location, 'http://relative.invalid').pathname.endsWith(`/products/${product.id}`),
    `Location names the product: ${location}`,
  );
  assert.match(product.id, /^[0-9a-f]{24}$/);
  for (const field of ['name', 'description', 'price', 'category']) assert.equal(product[field], body[field], field);
  assert.equal(product.stock, body.stock ?? null, 'stock, null (untracked) unless given');
  assert.ok(!Number.isNaN(Date.parse(product.createdAt)));
  assert.equal(product.updatedAt, product.createdAt);
  assert.equal(answer.headers.get('etag'), '"1"', 'a new product is at version 1');
  state.products[key] = product;
  return product;
}

describe('products', function () {
  describe('POST /products', function () {
    it('refuses a request without a token with 401 and WWW-Authenticate: Bearer', async function () {
      const answer = await call('POST', '/products', { json: productBody('anonymous', 1) });
      expectProblem(answer, 401);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    });

    it("refuses a customer's token with 403", async function () {
      expectProblem(await call('POST', '/products', { token: customerToken(), json: productBody('sneaky', 1) }), 403);
    });

    it('creates products as the admin: 201, the product and Location: /products/{id}', async function () {
      // Created one after another, so "newest first" is known: tea, then coffee, then cocoa.
      await create('tea', 19.99);
      await create('coffee', 0.1);
      await create('cocoa', 0.2);
    });

    it('accepts the money bounds 0 and 1000000000', async function () {
      await create('free', 0, `edge-${RUN}`);
      await create('priceless', 1000000000, `edge-${RUN}`);
    });

    const badMoney = [
      ['more than 2 decimal places', '19.999'],
      ['a negative value', '-1'],
      ['a string', '"19.99"'],
      ['more than 1000000000', '1000000000.01'],
      ['a number too large for any float', '1e400'],
      ['null', 'null'],
    ];
    for (const [what, raw] of badMoney) {
      it(`refuses a price that is ${what} (${raw}) with 400 naming price`, async function () {
        const body = JSON.stringify(productBody('bad money', 0)).replace('"price":0', `"price":${raw}`);
        expectProblem(
          await call('POST', '/products', { token: adminToken(), body, contentType: 'application/json' }),
          400,
          ['price'],
        );
      });
    }

    const badFields = [
      ['an empty name', { name: '' }, 'name'],
      ['a name over 200 characters', { name: 'n'.repeat(201) }, 'name'],
      ['a description over 5000 characters', { description: 'd'.repeat(5001) }, 'description'],
      ['an empty category', { category: '' }, 'category'],
      ['a category over 100 characters', { category: 'c'.repeat(101) }, 'category'],
      ['an unknown field', { colour: 'red' }, 'colour'],
      ['a negative stock', { stock: -1 }, 'stock'],
      ['a stock over 1000000', { stock: 1000001 }, 'stock'],
      ['a fractional stock', { stock: 1.5 }, 'stock'],
    ];
    for (const [what, change, field] of badFields) {
      it(`refuses ${what} with 400 naming ${field}`, async function () {
        const body = { ...productBody('bad field', 1), ...change };
        expectProblem(await call('POST', '/products', { token: adminToken(), json: body }), 400, [field]);
      });
    }

    it('lists every failing field at once', async function () {
      const body = { name: '', description: 'x', price: -1, category: '' };
      expectProblem(await call('POST', '/products', { token: adminToken(), json: body }), 400, ['name', 'price', 'category']);
    });
  });

  describe('GET /products', function () {
    it('answers a page of at most 20 products by default, newest first', async function () {
      const page = expectStatus(await call('GET', '/products'), 200);
      assert.ok(Array.isArray(page.items) && page.items.length <= 20, `${page.items.length} items`);
      assert.ok('nextCursor' in page);
      assertNewestFirst(page.items, 'products');
    });

    it('filters by category and pages with limit and cursor, newest first', async function () {
      const { tea, coffee, cocoa } = state.products;
      need(tea && coffee && cocoa, 'the three products');
      const category = encodeURIComponent(state.category);
      const first = expectStatus(await call('GET', `/products?category=${category}&limit=2`), 200);
      assert.deepEqual(first.items.map((p) => p.id), [cocoa.id, coffee.id]);
      assert.equal(typeof first.nextCursor, 'string', 'a full page has a nextCursor');
      const cursor = encodeURIComponent(first.nextCursor);
      const second = expectStatus(await call('GET', `/products?category=${category}&limit=2&cursor=${cursor}`), 200);
      assert.deepEqual(second.items.map((p) => p.id), [tea.id]);
      assert.equal(second.nextCursor, null, 'the last page has no nextCursor');
      assert.deepEqual(second.items[0], tea, 'a listed product is the product as created');
    });

    it('answers an empty page for a category nobody uses', async function () {
      const page = expectStatus(await call('GET', `/products?category=none-${RUN}`), 200);
      assert.deepEqual(page, { items: [], nextCursor: null });
    });

    it('answers the products among ?ids= that exist', async function () {
      const { tea, coffee } = state.products;
      need(tea && coffee, 'the products');
      const page = expectStatus(await call('GET', `/products?ids=${tea.id},${unknownId()},${coffee.id}`), 200);
      assert.deepEqual(page.items.map((p) => p.id).sort(), [tea.id, coffee.id].sort());
    });

    const badQueries = [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=not-a-cursor!', 'cursor'],
      ['ids=not-an-id', 'ids'],
      [`ids=${Array.from({ length: 101 }, () => unknownId()).join(',')}`, 'ids'],
    ];
    for (const [query, field] of badQueries) {
      it(`refuses ?${query.slice(0, 40)}${query.length > 40 ? '…' : ''} with 400`, async function () {
        expectProblem(await call('GET', `/products?${query}`), 400, [field]);
      });
    }
  });

  describe('GET /products/{id}', function () {
    it('answers the product', async function () {
      const tea = need(state.products.tea, 'the tea');
      assert.deepEqual(expectStatus(await call('GET', `/products/${tea.id}`), 200), tea);
    });

    it('answers 404 for an id nobody has', async function () {
      expectProblem(await call('GET', `/products/${unknownId()}`), 404);
    });

    it('answers 404 for a path id that is not an ObjectId', async function () {
      expectProblem(await call('GET', '/products/not-an-id'), 404);
      const tea = need(state.products.tea, 'the tea');
      expectProblem(await call('GET', `/products/${tea.id.toUpperCase()}`), 404);
    });
  });

  describe('GET /categories', function () {
    it('counts the products of each category, sorted by name', async function () {
      const { items } = expectStatus(await call('GET', '/categories'), 200);
      const names = items.map((c) => c.name);
      assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), 'sorted by name');
      const ours = items.filter((c) => c.name.endsWith(RUN));
      assert.deepEqual(ours, [
        { name: state.category, count: 3 },
        { name: `edge-${RUN}`, count: 2 },
      ].sort((a, b) => (a.name < b.name ? -1 : 1)));
    });
  });

  describe('PATCH /products/{id}', function () {
    const path = () => `/products/${need(state.products.lamp, 'the lamp').id}`;
    const patch = (json, options = {}) =>
      call('PATCH', path(), { token: adminToken(), json, contentType: 'application/merge-patch+json', ...options });

    it('creates a product with stock to edit: 201 with stock and ETag "1"', async function () {
      await create('lamp', 25, `lamps-${RUN}`, { stock: 4 });
    });

    it('answers every single product with a strong ETag', async function () {
      const answer = await call('GET', path());
      expectStatus(answer, 200);
      assert.equal(answer.headers.get('etag'), '"1"');
    });

    it('refuses an update without If-Match with 428, and a customer with 403', async function () {
      expectProblem(await patch({ price: 30 }), 428);
      expectProblem(await patch({ price: 30 }, { token: customerToken(), headers: { 'if-match': '"1"' } }), 403);
      expectProblem(await patch({ price: 30 }, { token: undefined, headers: { 'if-match': '"1"' } }), 401);
    });

    it('applies a merge patch at the current version: 200, the product and a new ETag', async function () {
      const answer = await patch({ price: 29.5, name: `lamp v2 ${RUN}` }, { headers: { 'if-match': '"1"' } });
      const product = expectStatus(answer, 200);
      assert.equal(answer.headers.get('etag'), '"2"');
      assert.equal(product.price, 29.5);
      assert.equal(product.name, `lamp v2 ${RUN}`);
      assert.equal(product.stock, 4, 'fields not in the patch are kept');
      assert.equal(product.createdAt, state.products.lamp.createdAt);
      assert.ok(Date.parse(product.updatedAt) >= Date.parse(product.createdAt));
      assert.deepEqual(expectStatus(await call('GET', path()), 200), product);
      state.products.lamp = product;
    });

    it('refuses a stale ETag with 412 and changes nothing', async function () {
      expectProblem(await patch({ price: 1 }, { headers: { 'if-match': '"1"' } }), 412);
      assert.equal(expectStatus(await call('GET', path()), 200).price, 29.5);
    });

    it('sets stock without moving the ETag, and null stops tracking it', async function () {
      const counted = await patch({ stock: 10 }, { headers: { 'if-match': '"2"' } });
      assert.equal(expectStatus(counted, 200).stock, 10);
      assert.equal(counted.headers.get('etag'), '"2"', 'stock is not a catalog field');
      const untracked = await patch({ stock: null }, { headers: { 'if-match': '"2"' } });
      assert.equal(expectStatus(untracked, 200).stock, null);
    });

    const refused = [
      ['an id', { id: '0123456789abcdef01234567' }, 'id'],
      ['createdAt', { createdAt: '2020-01-01T00:00:00Z' }, 'createdAt'],
      ['an unknown field', { colour: 'red' }, 'colour'],
      ['a null name', { name: null }, 'name'],
      ['a price with 3 decimals', { price: 1.005 }, 'price'],
      ['a negative stock', { stock: -3 }, 'stock'],
    ];
    for (const [what, body, field] of refused) {
      it(`refuses ${what} in a patch with 400 naming ${field}`, async function () {
        expectProblem(await patch(body, { headers: { 'if-match': '"2"' } }), 400, [field]);
      });
    }

    it('answers 404 for an unknown product', async function () {
      expectProblem(
        await call('PATCH', `/products/${unknownId()}`, { token: adminToken(), json: { price: 1 }, headers: { 'if-match': '"1"' } }),
        404,
      );
    });
  });

  describe('DELETE /products/{id}', function () {
    it("refuses a customer's token with 403", async function () {
      const lamp = need(state.products.lamp, 'the lamp');
      expectProblem(await call('DELETE', `/products/${lamp.id}`, { token: customerToken() }), 403);
    });

    it('archives a product: 204, then 404, unlisted, uncounted and unorderable', async function () {
      const lamp = need(state.products.lamp, 'the lamp');
      const answer = await call('DELETE', `/products/${lamp.id}`, { token: adminToken() });
      assert.equal(answer.status, 204, show(answer));
      assert.equal(answer.text, '');
      expectProblem(await call('GET', `/products/${lamp.id}`), 404);
      const listed = expectStatus(await call('GET', `/products?ids=${lamp.id}`), 200);
      assert.deepEqual(listed.items, []);
      const categories = expectStatus(await call('GET', '/categories'), 200);
      assert.ok(!categories.items.some((c) => c.name === `lamps-${RUN}`), 'its category had only it');
      const order = await call('POST', '/orders', {
        token: customerToken(),
        json: { products: [{ productId: lamp.id, quantity: 1 }] },
      });
      assert.deepEqual(expectProblem(order, 422).missing, [lamp.id]);
      expectProblem(
        await call('PATCH', `/products/${lamp.id}`, { token: adminToken(), json: { price: 1 }, headers: { 'if-match': '"2"' } }),
        404,
      );
    });

    it('answers 404 when deleting it again', async function () {
      const lamp = need(state.products.lamp, 'the lamp');
      expectProblem(await call('DELETE', `/products/${lamp.id}`, { token: adminToken() }), 404);
    });
  });
});
