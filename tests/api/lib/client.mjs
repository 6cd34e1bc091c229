// The suite's one HTTP client: sends a request with Node's fetch, records the
// answer for the OpenAPI check at the end, and fails at once on any 500.
import assert from 'node:assert/strict';
import { apiUrl, REQUEST_TIMEOUT_MS } from './config.mjs';

/** Every answer of the run, in order: { method, path, status, headers, contentType, text, body }. */
export const recorded = [];

/**
 * Sends METHOD PATH. Options: `token` (bearer), `json` (a value sent as JSON),
 * `body` (raw text), `contentType`, `headers`, `authorization` (raw header).
 */
export async function call(method, path, options = {}) {
  const headers = { accept: 'application/json, application/problem+json', ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.authorization !== undefined) headers.authorization = options.authorization;
  let body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = options.contentType ?? 'application/json';
  } else if (options.body !== undefined) {
    body = options.body;
    if (options.contentType) headers['content-type'] = options.contentType;
  }

  let response;
  try {
    response = await fetch(apiUrl() + path, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(`${method} ${path}: no answer from ${apiUrl()} (${error.cause?.message ?? error.message})`);
  }
  const text = await response.text();
  const contentType = (response.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  let parsed;
  if (contentType.endsWith('json') && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  const answer = {
    method,
    path,
    status: response.status,
    headers: response.headers,
    contentType,
    text,
    body: parsed,
  };
  recorded.push(answer);
  assert.notEqual(answer.status, 500, `500 is a bug: ${describe(answer)}`);
  return answer;
}

/** One line for assertion messages: the request and what came back. */
export function describe(answer) {
  const text = answer.text.length > 600 ? `${answer.text.slice(0, 600)}…` : answer.text;
  return `${answer.method} ${answer.path} -> ${answer.status} ${answer.contentType} ${text}`;
}

/** Asserts the status (with the whole answer in the message) and returns the body. */
export function expectStatus(answer, status) {
  assert.equal(answer.status, status, `expected ${status}: ${describe(answer)}`);
  if (status < 300) {
    assert.equal(answer.contentType, 'application/json', `a success is JSON: ${describe(answer)}`);
    assert.notEqual(answer.body, undefined, `the body parses as JSON: ${describe(answer)}`);
  }
  return answer.body;
}

/** Words that must never reach a client (secrets, hashes, driver and panic messages). */
const LEAKS = [/\$argon2/i, /password_?hash/i, /panicked at/i, /stack backtrace/i, /mongodb:\/\//i, /Kind: /];

/**
 * Asserts an RFC 9457 problem with this status and a request id; `fields` (if
 * given) must all be named in `errors`. Returns the problem.
 */
export function expectProblem(answer, status, fields = []) {
  assert.equal(answer.status, status, `expected ${status}: ${describe(answer)}`);
  assert.equal(answer.contentType, 'application/problem+json', `an error is problem+json: ${describe(answer)}`);
  const problem = answer.body;
  assert.ok(problem && typeof problem === 'object', `the problem parses as a JSON object: ${describe(answer)}`);
  assert.equal(problem.status, status, `the problem's status matches: ${describe(answer)}`);
  for (const member of ['type', 'title', 'detail', 'requestId']) {
    assert.equal(typeof problem[member], 'string', `the problem has a string ${member}: ${describe(answer)}`);
  }
  assert.ok(problem.requestId.length > 0, `the problem's requestId is not empty: ${describe(answer)}`);
  for (const leak of LEAKS) {
    assert.doesNotMatch(answer.text, leak, `the problem leaks nothing: ${describe(answer)}`);
  }
  if (fields.length > 0) {
    assert.ok(Array.isArray(problem.errors), `the problem lists its errors: ${describe(answer)}`);
    const named = problem.errors.map((e) => e.field);
    for (const field of fields) {
      assert.ok(
        named.some((name) => name === field || name.startsWith(`${field}.`) || name.startsWith(`${field}[`)),
        `errors name ${field}: ${describe(answer)}`,
      );
    }
  }
  return problem;
}

/** The claims of a JWT, decoded without verifying it. */
export function claimsOf(token) {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

/** Asserts newest first: every item's createdAt is at or before the previous one's. */
export function assertNewestFirst(items, what) {
  for (let i = 1; i < items.length; i += 1) {
    assert.ok(
      Date.parse(items[i - 1].createdAt) >= Date.parse(items[i].createdAt),
      `${what} are newest first: ${items[i - 1].createdAt} before ${items[i].createdAt}`,
    );
  }
}
