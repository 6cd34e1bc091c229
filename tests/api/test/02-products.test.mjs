// The story, part 2: the admin creates products (401 without a token, 403 for a
// customer, 400 for bad money), then anyone lists, pages, filters and fetches them.
import assert from 'node:assert/strict';
import { assertNewestFirst, call, expectProblem, expectStatus } from '../lib/client.mjs';
import { RUN, need, state, unknownId } from '../lib/state.mjs';

const adminToken = () => need(state.users.root?.token, 'an admin token');
const customerToken = () => need(state.users.alice?.token, 'a customer token');

function productBody(name, price, category = state.category) {
  return { name: `${name} ${RUN}`, description: `The ${name} of run ${RUN}.`, price, category };
}

async function create(key, price, category) {
  const body = productBody(key, price, category);
  const answer = await call('POST', '/products', { token: adminToken(), json: body });
  const product = expectStatus(answer, 201);
  const location = answer.headers.get('location') ?? '';
  assert.ok(
    new URL(location, 'http://relative.invalid').pathname.endsWith(`/products/${product.id}`),
    `Location names the product: ${location}`,
  );
  assert.match(product.id, /^[0-9a-f]{24}$/);
  for (const field of ['name', 'description', 'price', 'category']) assert.equal(product[field], body[field], field);
  assert.ok(!Number.isNaN(Date.parse(product.createdAt)));
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
      ['an unknown field', { stock: 3 }, 'stock'],
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
});
