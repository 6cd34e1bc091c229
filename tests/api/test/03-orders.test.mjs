// The story, part 3: customers order (exact totals, 422 for unknown products, 400
// for fields the server owns, Idempotency-Key replays), then list and fetch orders
// as their owner, as another customer and as the admin.
import assert from 'node:assert/strict';
import { assertNewestFirst, call, expectProblem, expectStatus } from '../lib/client.mjs';
import { RUN, need, state, unknownId } from '../lib/state.mjs';

const tokenOf = (name) => need(state.users[name]?.token, `a token for ${name}`);
const productId = (key) => need(state.products[key]?.id, `the product ${key}`);

/** Places an order and checks the 201 shape; returns the answer and the order. */
async function order(name, lines, headers = {}) {
  const answer = await call('POST', '/orders', { token: tokenOf(name), json: { products: lines }, headers });
  const placed = expectStatus(answer, 201);
  const location = answer.headers.get('location') ?? '';
  assert.ok(
    new URL(location, 'http://relative.invalid').pathname.endsWith(`/orders/${placed.id}`),
    `Location names the order: ${location}`,
  );
  assert.equal(placed.userId, state.users[name].id, 'the buyer is the token subject');
  assert.equal(placed.status, 'created');
  return { answer, placed };
}

describe('orders', function () {
  describe('POST /orders', function () {
    it('refuses a request without a token with 401 and WWW-Authenticate: Bearer', async function () {
      const answer = await call('POST', '/orders', { json: { products: [{ productId: unknownId(), quantity: 1 }] } });
      expectProblem(answer, 401);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    });

    it('prices 3 × 19.99 at exactly 59.97, from the product function', async function () {
      const tea = need(state.products.tea, 'the tea');
      const { placed } = await order('alice', [{ productId: tea.id, quantity: 3 }]);
      assert.equal(placed.products.length, 1);
      assert.deepEqual(placed.products[0], {
        productId: tea.id,
        name: tea.name,
        unitPrice: 19.99,
        quantity: 3,
        lineTotal: 59.97,
      });
      assert.equal(placed.totalPrice, 59.97);
      state.orders.tea = placed;
    });

    it('sums 0.10 + 0.20 to exactly 0.30', async function () {
      const { placed } = await order('alice', [
        { productId: productId('coffee'), quantity: 1 },
        { productId: productId('cocoa'), quantity: 1 },
      ]);
      assert.equal(placed.totalPrice, 0.3);
      assert.deepEqual(placed.products.map((l) => l.lineTotal).sort(), [0.1, 0.2]);
      state.orders.pennies = placed;
    });

    it("places another customer's order", async function () {
      state.orders.bob = (await order('bob', [{ productId: productId('tea'), quantity: 1 }])).placed;
    });

    it('answers 422 with the unknown ids in missing', async function () {
      const ghost = unknownId();
      const body = { products: [{ productId: productId('tea'), quantity: 1 }, { productId: ghost, quantity: 2 }] };
      const problem = expectProblem(await call('POST', '/orders', { token: tokenOf('alice'), json: body }), 422);
      assert.deepEqual(problem.missing, [ghost]);
    });

    const refused = [
      ['a userId (the buyer is the token subject)', (tea) => ({ products: [{ productId: tea, quantity: 1 }], userId: unknownId() }), 'userId'],
      ['a totalPrice (the server computes it)', (tea) => ({ products: [{ productId: tea, quantity: 1 }], totalPrice: 0 }), 'totalPrice'],
      ['no lines', () => ({ products: [] }), 'products'],
      ['more than 100 lines', () => ({ products: Array.from({ length: 101 }, () => ({ productId: unknownId(), quantity: 1 })) }), 'products'],
      ['a quantity of 0', (tea) => ({ products: [{ productId: tea, quantity: 0 }] }), 'products'],
      ['a quantity over 1000', (tea) => ({ products: [{ productId: tea, quantity: 1001 }] }), 'products'],
      ['a fractional quantity', (tea) => ({ products: [{ productId: tea, quantity: 1.5 }] }), 'products'],
      ['a productId that is not an ObjectId', () => ({ products: [{ productId: 'tea', quantity: 1 }] }), 'products'],
      ['the same productId twice', (tea) => ({ products: [{ productId: tea, quantity: 1 }, { productId: tea, quantity: 2 }] }), 'products'],
      ['an unknown field in a line', (tea) => ({ products: [{ productId: tea, quantity: 1, price: 0.01 }] }), 'products'],
    ];
    for (const [what, build, field] of refused) {
      it(`refuses a body with ${what}: 400 naming ${field}`, async function () {
        const body = build(productId('tea'));
        expectProblem(await call('POST', '/orders', { token: tokenOf('alice'), json: body }), 400, [field]);
      });
    }

    describe('Idempotency-Key', function () {
      const key = `order-${RUN}`;
      const lines = () => [{ productId: productId('tea'), quantity: 2 }];

      it('places the first order with a key', async function () {
        const { answer, placed } = await order('alice', lines(), { 'idempotency-key': key });
        assert.notEqual(answer.headers.get('idempotent-replayed'), 'true', 'a first order is not a replay');
        state.orders.idempotent = placed;
      });

      it('replays it for the same key and body: 201, Idempotent-Replayed: true, the same order', async function () {
        const first = need(state.orders.idempotent, 'the first idempotent order');
        const { answer, placed } = await order('alice', lines(), { 'idempotency-key': key });
        assert.equal(answer.headers.get('idempotent-replayed'), 'true');
        assert.deepEqual(placed, first);
      });

      it('refuses the same key with another body with 409', async function () {
        const body = { products: [{ productId: productId('tea'), quantity: 3 }] };
        const answer = await call('POST', '/orders', { token: tokenOf('alice'), json: body, headers: { 'idempotency-key': key } });
        expectProblem(answer, 409);
      });

      it("does not replay another user's order for the same key", async function () {
        const first = need(state.orders.idempotent, 'the first idempotent order');
        const { answer, placed } = await order('bob', lines(), { 'idempotency-key': key });
        assert.notEqual(answer.headers.get('idempotent-replayed'), 'true');
        assert.notEqual(placed.id, first.id);
        state.orders.bobIdempotent = placed;
      });

      it('refuses a key longer than 255 characters with 400', async function () {
        const answer = await call('POST', '/orders', {
          token: tokenOf('alice'),
          json: { products: lines() },
          headers: { 'idempotency-key': 'k'.repeat(256) },
        });
        expectProblem(answer, 400);
      });
    });
  });

  describe('GET /orders and GET /orders/{id}', function () {
    it("lists the caller's own orders, newest first, each stored once", async function () {
      const page = expectStatus(await call('GET', '/orders?limit=100', { token: tokenOf('alice') }), 200);
      const alice = state.users.alice;
      assert.ok(page.items.every((o) => o.userId === alice.id), 'only her own orders');
      const ids = page.items.map((o) => o.id);
      const { tea, pennies, idempotent } = state.orders;
      need(tea && pennies && idempotent, "alice's orders");
      assert.deepEqual(ids, [idempotent.id, pennies.id, tea.id], 'her three orders, newest first, the replay not stored');
      assertNewestFirst(page.items, 'orders');
      assert.deepEqual(page.items[2], tea, 'a listed order is the order as placed');
      assert.equal(page.nextCursor, null);
    });

    it('pages with limit and cursor', async function () {
      const first = expectStatus(await call('GET', '/orders?limit=2', { token: tokenOf('alice') }), 200);
      assert.equal(first.items.length, 2);
      assert.equal(typeof first.nextCursor, 'string');
      const next = encodeURIComponent(first.nextCursor);
      const second = expectStatus(await call('GET', `/orders?limit=2&cursor=${next}`, { token: tokenOf('alice') }), 200);
      assert.deepEqual(second.items.map((o) => o.id), [need(state.orders.tea, 'the tea order').id]);
      assert.equal(second.nextCursor, null);
    });

    it('refuses a bad limit with 400 and no token with 401', async function () {
      expectProblem(await call('GET', '/orders?limit=0', { token: tokenOf('alice') }), 400, ['limit']);
      const answer = await call('GET', '/orders');
      expectProblem(answer, 401);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    });

    it("never shows a customer another user's orders through ?userId=", async function () {
      const bob = need(state.users.bob, 'bob');
      const answer = await call('GET', `/orders?userId=${bob.id}`, { token: tokenOf('alice') });
      if (answer.status === 200) {
        assert.ok(answer.body.items.every((o) => o.userId === state.users.alice.id), 'only her own orders');
      } else {
        expectProblem(answer, answer.status);
        assert.ok([400, 403].includes(answer.status), `400 or 403, got ${answer.status}`);
      }
    });

    it('fetches an order for its owner', async function () {
      const tea = need(state.orders.tea, 'the tea order');
      assert.deepEqual(expectStatus(await call('GET', `/orders/${tea.id}`, { token: tokenOf('alice') }), 200), tea);
    });

    it("answers 404 for another user's order, an unknown id and a malformed id", async function () {
      const tea = need(state.orders.tea, 'the tea order');
      expectProblem(await call('GET', `/orders/${tea.id}`, { token: tokenOf('bob') }), 404);
      expectProblem(await call('GET', `/orders/${unknownId()}`, { token: tokenOf('alice') }), 404);
      expectProblem(await call('GET', '/orders/not-an-id', { token: tokenOf('alice') }), 404);
    });

    it("refuses GET /orders/{id} without a token with 401", async function () {
      const tea = need(state.orders.tea, 'the tea order');
      expectProblem(await call('GET', `/orders/${tea.id}`), 401);
    });

    it("lets the admin see every user's orders and fetch any of them", async function () {
      const page = expectStatus(await call('GET', '/orders?limit=100', { token: tokenOf('root') }), 200);
      const ids = page.items.map((o) => o.id);
      for (const key of ['tea', 'pennies', 'bob', 'bobIdempotent']) {
        assert.ok(ids.includes(need(state.orders[key], key).id), `the admin sees the ${key} order`);
      }
      assertNewestFirst(page.items, 'orders');
      const bobOrder = state.orders.bob;
      assert.deepEqual(expectStatus(await call('GET', `/orders/${bobOrder.id}`, { token: tokenOf('root') }), 200), bobOrder);
    });

    it('lets the admin filter by ?userId=', async function () {
      const bob = need(state.users.bob, 'bob');
      const page = expectStatus(await call('GET', `/orders?userId=${bob.id}`, { token: tokenOf('root') }), 200);
      assert.deepEqual(
        page.items.map((o) => o.id),
        [need(state.orders.bobIdempotent, "bob's second order").id, need(state.orders.bob, "bob's order").id],
      );
    });
  });

  describe('stock and the order lifecycle', function () {
    const stockOf = async (id) => expectStatus(await call('GET', `/products/${id}`), 200).stock;
    let inkId;

    it('reserves stock with the order, and refuses what is not there with 409 insufficient', async function () {
      const created = await call('POST', '/products', {
        token: tokenOf('root'),
        json: { name: `ink ${RUN}`, description: '', price: 4, category: `ink-${RUN}`, stock: 5 },
      });
      inkId = expectStatus(created, 201).id;
      const { placed } = await order('alice', [{ productId: inkId, quantity: 3 }]);
      state.orders.ink = placed;
      assert.equal(await stockOf(inkId), 2);
      const short = await call('POST', '/orders', {
        token: tokenOf('bob'),
        json: { products: [{ productId: productId('tea'), quantity: 1 }, { productId: inkId, quantity: 3 }] },
      });
      const problem = expectProblem(short, 409);
      assert.deepEqual(problem.insufficient, [{ productId: inkId, requested: 3, available: 2 }]);
      assert.equal(await stockOf(inkId), 2, 'nothing taken');
    });

    it('never sells more than there is to parallel orders', async function () {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () =>
          call('POST', '/orders', { token: tokenOf('bob'), json: { products: [{ productId: inkId, quantity: 1 }] } }),
        ),
      );
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [201, 201, 409, 409, 409, 409], `statuses: ${statuses}`);
      assert.equal(await stockOf(inkId), 0);
      for (const answer of answers.filter((a) => a.status === 201)) {
        const placed = answer.body;
        const cancel = await call('POST', `/orders/${placed.id}/cancel`, { token: tokenOf('bob') });
        assert.equal(expectStatus(cancel, 200).status, 'cancelled');
      }
      assert.equal(await stockOf(inkId), 2, 'the cancelled orders gave their stock back');
    });

    it('cancels an order for its buyer: 200, the stock back, history with who did it; twice is 409', async function () {
      const ink = need(state.orders.ink, 'the ink order');
      expectProblem(await call('POST', `/orders/${ink.id}/cancel`, { token: tokenOf('bob') }), 404);
      const answer = await call('POST', `/orders/${ink.id}/cancel`, { token: tokenOf('alice') });
      const cancelled = expectStatus(answer, 200);
      assert.equal(cancelled.status, 'cancelled');
      assert.deepEqual(cancelled.statusHistory.map((c) => [c.status, c.by]), [
        ['created', state.users.alice.id],
        ['cancelled', state.users.alice.id],
      ]);
      assert.equal(await stockOf(inkId), 5);
      expectProblem(await call('POST', `/orders/${ink.id}/cancel`, { token: tokenOf('alice') }), 409);
      assert.equal(await stockOf(inkId), 5, 'cancelling twice returns nothing twice');
    });

    it('lets only the admin move an order created → paid → shipped → delivered', async function () {
      const { placed } = await order('alice', [{ productId: inkId, quantity: 1 }]);
      const path = `/orders/${placed.id}`;
      expectProblem(await call('PATCH', path, { token: tokenOf('alice'), json: { status: 'paid' } }), 403);
      expectProblem(await call('PATCH', path, { token: tokenOf('root'), json: { status: 'lost' } }), 400, ['status']);
      const skip = expectProblem(await call('PATCH', path, { token: tokenOf('root'), json: { status: 'shipped' } }), 409);
      assert.match(skip.detail, /created.*shipped/);
      for (const status of ['paid', 'shipped', 'delivered']) {
        const moved = expectStatus(await call('PATCH', path, { token: tokenOf('root'), json: { status } }), 200);
        assert.equal(moved.status, status);
      }
      const done = expectStatus(await call('GET', path, { token: tokenOf('alice') }), 200);
      assert.deepEqual(done.statusHistory.map((c) => [c.status, c.by]), [
        ['created', state.users.alice.id],
        ['paid', state.users.root.id],
        ['shipped', state.users.root.id],
        ['delivered', state.users.root.id],
      ]);
      expectProblem(await call('POST', `${path}/cancel`, { token: tokenOf('root') }), 409);
      assert.equal(await stockOf(inkId), 4, 'a delivered order keeps its stock');
      const delivered = expectStatus(await call('GET', '/orders?status=delivered', { token: tokenOf('alice') }), 200);
      assert.deepEqual(delivered.items.map((o) => o.id), [placed.id]);
      expectProblem(await call('GET', '/orders?status=pending', { token: tokenOf('alice') }), 400, ['status']);
    });

    it("refuses a client's token on the internal stock routes, an admin's included, with 403", async function () {
      const body = { orderId: unknownId(), products: [{ productId: inkId, quantity: 1 }] };
      for (const name of ['alice', 'root']) {
        expectProblem(await call('POST', '/stock/reservations', { token: tokenOf(name), json: body }), 403);
        expectProblem(await call('DELETE', `/stock/reservations/${unknownId()}`, { token: tokenOf(name) }), 403);
      }
      expectProblem(await call('POST', '/stock/reservations', { json: body }), 401);
      assert.equal(await stockOf(inkId), 4);
    });
  });
});
