// The conventions every route shares: body rules (400 / 413 / 415), bearer token
// rules (401 + WWW-Authenticate), and the router's own 404 and 405 + Allow.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { call, expectProblem } from '../lib/client.mjs';
import { ROUTER_CHECKS } from '../lib/config.mjs';
import { RUN, need, state } from '../lib/state.mjs';

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with the given claims, signed with a key the server does not know. */
function forged(claims, alg = 'HS256') {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  if (alg === 'none') return `${head}.`;
  return `${head}.${createHmac('sha256', `not-the-secret-${RUN}-padding-padding`).update(head).digest('base64url')}`;
}

describe('conventions', function () {
  describe('request bodies', function () {
    it('refuses malformed JSON with 400', async function () {
      const body = '{"username": "half';
      expectProblem(await call('POST', '/users/register', { body, contentType: 'application/json' }), 400);
    });

    it('refuses a JSON body that is not an object with 400', async function () {
      expectProblem(await call('POST', '/users/register', { body: '[]', contentType: 'application/json' }), 400);
    });

    it('refuses a body with another content type with 415', async function () {
      const body = JSON.stringify({ username: `t_${RUN}`, email: `t.${RUN}@example.com`, password: 'long-enough' });
      expectProblem(await call('POST', '/users/register', { body, contentType: 'text/plain' }), 415);
    });

    it('refuses a body over 1 MiB with 413', async function () {
      const token = need(state.users.root?.token, 'an admin token');
      const body = JSON.stringify({ name: 'big', description: 'x'.repeat(1024 * 1024), price: 1, category: 'big' });
      expectProblem(await call('POST', '/products', { token, body, contentType: 'application/json' }), 413);
    });
  });

  describe('bearer tokens', function () {
    const cases = [
      ['a malformed token', () => 'Bearer not.a.jwt'],
      ['another scheme', () => `Basic ${Buffer.from('root:secret').toString('base64')}`],
      ['a token signed with another key', (claims) => `Bearer ${forged(claims)}`],
      ['an unsigned (alg none) token', (claims) => `Bearer ${forged(claims, 'none')}`],
      ['a customer token whose role was edited to admin', (claims, token) => {
        const [head, , signature] = token.split('.');
        return `Bearer ${head}.${b64({ ...claims, role: 'admin' })}.${signature}`;
      }],
    ];
    for (const [what, header] of cases) {
      it(`refuses ${what} with 401 and WWW-Authenticate: Bearer`, async function () {
        const alice = need(state.users.alice?.token && state.users.alice, 'a customer token');
        const authorization = header(alice.claims, alice.token);
        const answer = await call('POST', '/products', {
          authorization,
          json: { name: `forged ${RUN}`, description: '', price: 1, category: state.category },
        });
        expectProblem(answer, 401);
        assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
      });
    }
  });

  describe('routing', function () {
    before(function () {
      if (!ROUTER_CHECKS) {
        console.log('      (ROUTER_CHECKS=0: skipping the router\'s own 404/405 answers, which API Gateway gives in its own format)');
        this.skip();
      }
    });

    it('answers an unknown path with a 404 problem', async function () {
      expectProblem(await call('GET', `/no-such-route-${RUN}`), 404);
    });

    it('answers a known path with another method with 405 and Allow', async function () {
      const answer = await call('DELETE', '/products');
      expectProblem(answer, 405);
      const allow = (answer.headers.get('allow') ?? '').split(',').map((m) => m.trim().toUpperCase());
      assert.ok(allow.includes('GET') && allow.includes('POST'), `Allow lists GET and POST: ${allow}`);
    });
  });
});
