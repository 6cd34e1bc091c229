// The story, part 1: register (every validation rule and both 409s), promote an
// admin, log in (same 401 for unknown user and wrong password; 429 after 10 failures
// from one address), and read one's own account.
import assert from 'node:assert/strict';
import { exec } from 'node:child_process';
import { promisify } from 'node:util';
import { call, claimsOf, describe as show, expectProblem, expectStatus } from '../lib/client.mjs';
import { promoteCommand } from '../lib/config.mjs';
import { RUN, need, state } from '../lib/state.mjs';

const run = promisify(exec);

/** A registration body for a user of this run. */
function account(name) {
  return { username: `${name}_${RUN}`, email: `${name}.${RUN}@example.com`, password: `pw-${name}-${RUN}!` };
}

async function register(name, overrides = {}) {
  const body = { ...account(name), ...overrides };
  const answer = await call('POST', '/users/register', { json: body });
  const user = expectStatus(answer, 201);
  state.users[name] = { ...user, password: body.password };
  return user;
}

async function login(name, username) {
  const user = need(state.users[name], `the user ${name}`);
  const answer = await call('POST', '/users/login', {
    json: { username: username ?? user.username, password: user.password },
  });
  const token = expectStatus(answer, 200);
  user.token = token.accessToken;
  user.claims = claimsOf(token.accessToken);
  return token;
}

describe('users', function () {
  describe('POST /users/register', function () {
    it('registers a customer: 201 with id, username, lower-cased email, role and createdAt, never the password', async function () {
      const body = account('alice');
      body.email = `Alice.${RUN}@Example.COM`;
      const answer = await call('POST', '/users/register', { json: body });
      const user = expectStatus(answer, 201);
      assert.match(user.id, /^[0-9a-f]{24}$/);
      assert.equal(user.username, body.username);
      assert.equal(user.email, body.email.toLowerCase());
      assert.equal(user.role, 'customer');
      assert.ok(!Number.isNaN(Date.parse(user.createdAt)), `createdAt is a time: ${user.createdAt}`);
      assert.ok(!answer.text.includes(body.password), 'the password is not echoed');
      assert.doesNotMatch(answer.text, /password|hash/i);
      state.users.alice = { ...user, password: body.password };
    });

    it('registers the other users of the story (a second customer, the future admin, a lock-out victim)', async function () {
      await register('bob');
      await register('root');
      await register('victim');
    });

    it('accepts the longest username (32) and password (128) and the shortest password (8)', async function () {
      const username = `L${RUN}`.padEnd(32, 'x');
      await register('longest', { username, password: 'p'.repeat(128) });
      await register('shortest', { username: `S${RUN}`, password: '8chars!!' });
    });

    const invalid = [
      ['a username under 3 characters', { username: 'ab' }, 'username'],
      ['a username over 32 characters', { username: 'u'.repeat(33) }, 'username'],
      ['a username with other characters', { username: `bad name!${RUN}` }, 'username'],
      ['a username that is not a string', { username: 12345 }, 'username'],
      ['an email that is not an address', { email: 'not-an-email' }, 'email'],
      ['an email over 254 characters', { email: `${'e'.repeat(250)}@example.com` }, 'email'],
      ['a password under 8 characters', { password: 'short7!' }, 'password'],
      ['a password over 128 characters', { password: 'p'.repeat(129) }, 'password'],
      ['an unknown field (no self-made admins)', { role: 'admin' }, 'role'],
    ];
    for (const [what, change, field] of invalid) {
      it(`refuses ${what} with 400 naming ${field}`, async function () {
        const body = { ...account('invalid'), ...change };
        expectProblem(await call('POST', '/users/register', { json: body }), 400, [field]);
      });
    }

    it('refuses missing fields with 400 listing every one of them', async function () {
      expectProblem(await call('POST', '/users/register', { json: {} }), 400, ['username', 'email', 'password']);
    });

    it('lists every failing field, not just the first', async function () {
      const body = { username: 'x', email: 'nope', password: 'short' };
      const problem = expectProblem(await call('POST', '/users/register', { json: body }), 400, [
        'username',
        'email',
        'password',
      ]);
      assert.ok(problem.errors.every((e) => typeof e.message === 'string' && e.message.length > 0));
    });

    it('refuses a taken username, case-insensitively, with 409', async function () {
      const alice = need(state.users.alice, 'alice');
      const body = { ...account('other1'), username: alice.username.toUpperCase() };
      expectProblem(await call('POST', '/users/register', { json: body }), 409);
    });

    it('refuses a taken email, whatever its case, with 409', async function () {
      const alice = need(state.users.alice, 'alice');
      const body = { ...account('other2'), email: alice.email.toUpperCase() };
      expectProblem(await call('POST', '/users/register', { json: body }), 409);
    });
  });

  describe('promotion to admin (operator command)', function () {
    it('promotes the future admin with PROMOTE_CMD', async function () {
      this.timeout(Number(process.env.PROMOTE_TIMEOUT_MS ?? 600_000));
      const { command, cwd } = promoteCommand();
      const root = need(state.users.root, 'the future admin');
      try {
        await run(`${command} ${root.username}`, { cwd, env: process.env });
      } catch (error) {
        assert.fail(`"${command} ${root.username}" failed (exit ${error.code}) in ${cwd}:\n${error.stderr}`);
      }
    });
  });

  describe('POST /users/login', function () {
    it('answers an unknown user and a wrong password with the same 401 body', async function () {
      const alice = need(state.users.alice, 'alice');
      const unknown = expectProblem(
        await call('POST', '/users/login', { json: { username: `nobody_${RUN}`, password: alice.password } }),
        401,
      );
      const wrong = expectProblem(
        await call('POST', '/users/login', { json: { username: alice.username, password: `${alice.password}x` } }),
        401,
      );
      const { requestId: a, ...unknownRest } = unknown;
      const { requestId: b, ...wrongRest } = wrong;
      assert.deepEqual(wrongRest, unknownRest, 'the two 401 bodies differ only in requestId');
    });

    it('logs in by username: 200 with an HS256 bearer token for the user', async function () {
      const token = await login('alice');
      const alice = state.users.alice;
      assert.equal(token.tokenType, 'Bearer');
      assert.ok(Number.isInteger(token.expiresIn) && token.expiresIn > 0, `expiresIn: ${token.expiresIn}`);
      const header = JSON.parse(Buffer.from(token.accessToken.split('.')[0], 'base64url').toString());
      assert.equal(header.alg, 'HS256');
      const claims = alice.claims;
      assert.equal(claims.sub, alice.id);
      assert.equal(claims.username, alice.username);
      assert.equal(claims.role, 'customer');
      for (const claim of ['iat', 'exp', 'iss', 'aud']) assert.ok(claim in claims, `the token carries ${claim}`);
      assert.ok(Math.abs(claims.exp - claims.iat - token.expiresIn) <= 5, 'exp - iat is expiresIn');
    });

    it('logs in by email too', async function () {
      const alice = need(state.users.alice, 'alice');
      await login('alice', alice.email);
    });

    it('gives the promoted user an admin token, and the others customer tokens', async function () {
      await login('root');
      assert.equal(state.users.root.claims.role, 'admin', 'the promoted user logs in as admin');
      await login('bob');
      assert.equal(state.users.bob.claims.role, 'customer');
    });

    it('refuses a login body with an unknown field or a missing password with 400', async function () {
      expectProblem(await call('POST', '/users/login', { json: { username: 'x', password: 'y', otp: 1 } }), 400, ['otp']);
      expectProblem(await call('POST', '/users/login', { json: { username: 'x' } }), 400, ['password']);
    });

    it('answers 429 with Retry-After once a username has 10 failed logins from one address', async function () {
      const victim = need(state.users.victim, 'the lock-out victim');
      const wrong = { username: victim.username, password: 'wrong-password' };
      for (let attempt = 1; attempt <= 10; attempt += 1) {
        const answer = await call('POST', '/users/login', { json: wrong });
        assert.equal(answer.status, 401, `failure ${attempt} of 10 is still a 401: ${show(answer)}`);
      }
      const limited = await call('POST', '/users/login', { json: wrong });
      expectProblem(limited, 429);
      const retryAfter = limited.headers.get('retry-after');
      assert.match(retryAfter ?? '', /^[1-9][0-9]*$/, `Retry-After is a number of seconds: ${retryAfter}`);
      // The right password from that same address is refused alike.
      expectProblem(await call('POST', '/users/login', { json: { ...wrong, password: victim.password } }), 429);
    });
  });

  describe('GET /users/me', function () {
    it('answers the caller\'s own account, with the role as stored now, never the password', async function () {
      const alice = need(state.users.alice, 'alice, logged in');
      const answer = await call('GET', '/users/me', { token: alice.token });
      const me = expectStatus(answer, 200);
      assert.deepEqual(me, {
        id: alice.id,
        username: alice.username,
        email: alice.email,
        role: 'customer',
        createdAt: alice.createdAt,
      });
      assert.doesNotMatch(answer.text, /password|hash/i);
      const root = need(state.users.root, 'the promoted admin');
      assert.equal(expectStatus(await call('GET', '/users/me', { token: root.token }), 200).role, 'admin');
    });

    it('refuses a missing or bad token with 401 and WWW-Authenticate: Bearer', async function () {
      for (const authorization of [undefined, 'Bearer not.a.jwt', 'Basic YTpi']) {
        const answer = await call('GET', '/users/me', authorization === undefined ? {} : { authorization });
        expectProblem(answer, 401);
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer', show(answer));
      }
    });
  });

  describe('POST /users/me/password', function () {
    it('changes the password: 204, every earlier token gets 401, the new password logs in', async function () {
      await register('pat');
      await login('pat');
      const pat = state.users.pat;
      const before = pat.token;
      const wrong = await call('POST', '/users/me/password', {
        token: before,
        json: { currentPassword: 'not the password', newPassword: 'a new passphrase' },
      });
      expectProblem(wrong, 401);
      const changed = await call('POST', '/users/me/password', {
        token: before,
        json: { currentPassword: pat.password, newPassword: `new-${RUN}-pw` },
      });
      assert.equal(changed.status, 204, show(changed));
      expectProblem(await call('GET', '/users/me', { token: before }), 401);
      const old = await call('POST', '/users/login', { json: { username: pat.username, password: pat.password } });
      expectProblem(old, 401);
      pat.password = `new-${RUN}-pw`;
      await login('pat');
      assert.equal(expectStatus(await call('GET', '/users/me', { token: pat.token }), 200).id, pat.id);
    });

    it('refuses a new password that breaks the registration rules with 400', async function () {
      const pat = need(state.users.pat, 'pat, logged in');
      const answer = await call('POST', '/users/me/password', {
        token: pat.token,
        json: { currentPassword: pat.password, newPassword: 'short' },
      });
      expectProblem(answer, 400, ['newPassword']);
    });
  });
});
