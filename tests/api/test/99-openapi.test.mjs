// The last step: every answer the run received must be one openapi.yaml documents
// for its route, with a body that matches the documented schema.
import assert from 'node:assert/strict';
import { recorded } from '../lib/client.mjs';
import { loadContract } from '../lib/openapi.mjs';

describe('openapi.yaml', function () {
  it('documents every answer of the run (status, content type, headers, body schema)', function () {
    const contract = loadContract();
    assert.ok(recorded.length > 0, 'the run recorded answers to check');
    const failures = recorded.flatMap((answer) => contract.check(answer).map((why) => `${answer.method} ${answer.path} -> ${answer.status}: ${why}`));
    if (failures.length > 0) {
      assert.fail(`${failures.length} of ${recorded.length} answers break openapi.yaml:\n${failures.join('\n')}`);
    }
  });

  it('saw no 500 in the whole run', function () {
    const bugs = recorded.filter((answer) => answer.status === 500);
    assert.deepEqual(bugs.map((a) => `${a.method} ${a.path}`), []);
  });
});
