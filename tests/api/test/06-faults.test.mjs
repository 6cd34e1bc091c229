// A dependency that is down: the same functions and database, served by a
// second runner whose order function is told the product function lives at
// an address where nothing listens. scripts/test starts it and sets
// FAULT_API_URL; against a deployed stack (no such twin) this file is skipped.
import assert from 'node:assert/strict';
import { call, expectProblem, expectStatus } from '../lib/client.mjs';
import { need, state } from '../lib/state.mjs';

const FAULT_API_URL = process.env.FAULT_API_URL?.replace(/\/+$/, '');

describe('a dependency that is down', function () {
  before(function () {
    if (!FAULT_API_URL) this.skip();
  });

  it('answers 503 when the product function is unreachable, and stores nothing', async function () {
    const alice = need(state.users.alice, 'alice');
    const tea = need(state.products.tea, 'the tea');
    const before = expectStatus(await call('GET', '/orders?limit=100', { token: alice.token }), 200);

    const response = await fetch(`${FAULT_API_URL}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ products: [{ productId: tea.id, quantity: 1 }] }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    const answer = {
      method: 'POST',
      path: '/orders (product function down)',
      status: response.status,
      headers: response.headers,
      contentType: (response.headers.get('content-type') ?? '').split(';')[0].trim(),
      text,
      body: JSON.parse(text),
    };
    const problem = expectProblem(answer, 503);
    assert.match(problem.type, /\/unavailable$/);

    const after = expectStatus(await call('GET', '/orders?limit=100', { token: alice.token }), 200);
    assert.deepEqual(after.items.map((o) => o.id), before.items.map((o) => o.id), 'no order was stored');
  });
});
