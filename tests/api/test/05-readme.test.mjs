// Keeps the README's curl walk-through true: every example marked
// `<!-- example: … -->` is run against the stack and its answer compared with
// the JSON shown under it. Ids, times, tokens and request ids vary per run, so
// for those keys only the kind of value is compared; everything else exactly.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { apiUrl, promoteCommand, REPO_ROOT } from '../lib/config.mjs';

const VARYING = new Set(['id', 'userId', 'productId', 'createdAt', 'updatedAt', 'at', 'by', 'accessToken', 'requestId']);

/** The examples in README order: { marker, command, expected }. */
function readExamples() {
  const readme = readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const pattern = /<!-- example: ([^>]*) -->\s*```sh\n([\s\S]*?)```(?:\s*```json\n([\s\S]*?)```)?/g;
  return [...readme.matchAll(pattern)].map(([, marker, command, expected]) => ({
    marker: Object.fromEntries(marker.trim().split(/\s+/).map((kv) => kv.split('=', 2))),
    command: command.trim(),
    expected: expected === undefined ? undefined : JSON.parse(expected),
  }));
}

/** Compares an answer with the README's, key by key. */
function sameShape(actual, expected, where = '$') {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${where}: expected an array`);
    assert.equal(actual.length, expected.length, `${where}: length`);
    expected.forEach((item, i) => sameShape(actual[i], item, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), `${where}: keys`);
    for (const [key, value] of Object.entries(expected)) {
      if (VARYING.has(key)) {
        assert.equal(typeof actual[key], typeof value, `${where}.${key}: kind of value`);
      } else {
        sameShape(actual[key], value, `${where}.${key}`);
      }
    }
  } else {
    assert.deepEqual(actual, expected, where);
  }
}

describe('README walk-through', function () {
  const examples = readExamples();
  // Fresh names each run, so the story can be told twice against one database.
  const suffix = Math.random().toString(36).slice(2, 8);
  const rename = (text) => text.replace(/alice/gi, (name) => `${name}${suffix}`);
  const vars = {};

  it('has the examples it promises', function () {
    assert.ok(examples.length >= 10, `found ${examples.length} examples in README.md`);
  });

  for (const [index, example] of examples.entries()) {
    const title = `example ${index + 1}: ${example.command.split('\n')[0].slice(0, 70)}`;
    it(title, function () {
      if (example.marker.promote) {
        const { command, cwd } = promoteCommand();
        execFileSync('sh', ['-c', `${command} ${rename(example.marker.promote)}`], { cwd, stdio: 'pipe' });
        return;
      }
      // curl -s … → also write the status line and headers to a file.
      const headerFile = path.join(mkdtempSync(path.join(tmpdir(), 'readme-')), 'headers');
      const command = rename(example.command)
        .replaceAll('http://localhost:3000', apiUrl())
        .replace(/^curl -s/, `curl -sS -D ${headerFile}`);
      const body = execFileSync('bash', ['-c', command], {
        env: { ...process.env, ...vars },
        encoding: 'utf8',
      });
      const head = readFileSync(headerFile, 'utf8').trim().split('\r\n');
      rmSync(path.dirname(headerFile), { recursive: true });
      const status = Number(head[0].split(' ')[1]);
      const headers = Object.fromEntries(
        head.slice(1).map((line) => {
          const at = line.indexOf(':');
          return [line.slice(0, at).toLowerCase(), line.slice(at + 1).trim()];
        }),
      );
      assert.equal(status, Number(example.marker.status), `status; body: ${body}`);
      if (example.marker.header) {
        const [name, value] = example.marker.header.split(':');
        assert.equal(headers[name], value, `header ${name}`);
      }
      if (example.expected === undefined) {
        // Shown without an answer: a 204 has none; others are steps of the story.
        if (status === 204) assert.equal(body, '', 'a 204 has no body');
        return;
      }
      const answer = JSON.parse(body);
      sameShape(answer, JSON.parse(rename(JSON.stringify(example.expected))));
      if (example.marker.save) {
        const [field, variable] = example.marker.save.split(':');
        vars[variable] = answer[field];
      }
    });
  }
});
