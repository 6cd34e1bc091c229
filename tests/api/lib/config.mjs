// The suite's settings, all from the environment, read once.
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root: where PROMOTE_CMD runs unless PROMOTE_CWD says otherwise. */
export const REPO_ROOT = path.resolve(here, '..', '..', '..');

/** openapi.yaml, checked against every response of the run. */
export const OPENAPI_FILE = process.env.OPENAPI_FILE ?? path.join(REPO_ROOT, 'openapi.yaml');

/** Per-request timeout; a cold Lambda start plus Argon2 hashing fits well inside it. */
export const REQUEST_TIMEOUT_MS = Number(process.env.REQUEST_TIMEOUT_MS ?? 30_000);

/**
 * Whether to check the answers the router gives itself (404 for an unknown path,
 * 405 + Allow for a known path with another method). API Gateway answers those with
 * its own bodies, so a deployed stack is tested with ROUTER_CHECKS=0.
 */
export const ROUTER_CHECKS = !['0', 'false', 'no'].includes(
  (process.env.ROUTER_CHECKS ?? '1').toLowerCase(),
);

/** The API's base URL without a trailing slash, e.g. http://127.0.0.1:3000. */
export function apiUrl() {
  const value = process.env.API_URL;
  if (!value) {
    throw new Error(
      'API_URL is not set: point it at the running stack, e.g. ' +
        'API_URL=http://127.0.0.1:3000 npm test (see tests/api/README.md)',
    );
  }
  return value.replace(/\/+$/, '');
}

/**
 * The shell command prefix that promotes a user to admin; the username is appended.
 * The suite cannot create products without it, so it is required.
 */
export function promoteCommand() {
  const value = process.env.PROMOTE_CMD;
  if (!value) {
    throw new Error(
      'PROMOTE_CMD is not set: the suite needs an admin and the API has no way to make one. ' +
        'Set it to a command prefix the username is appended to, e.g. ' +
        'PROMOTE_CMD="target/release/shop-admin promote" (run from the repository root ' +
        'with MONGODB_URI pointing at the stack\'s database; see tests/api/README.md)',
    );
  }
  return { command: value, cwd: process.env.PROMOTE_CWD ?? REPO_ROOT };
}
