// RangeReader closes its own Fetch connections with the consumer, in each of the consumer's forms
// (promise, callback, force + callback), so callers written for a Consumer keep working.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../lib/config.js';
import { createRangeReader } from '../../lib/kafka.js';

const config = loadConfig();

test('a range reader closes as a promise, with a callback, and with force and a callback', async () => {
  await createRangeReader(config, 'test.close-promise').close();
  const calls: string[] = [];
  await new Promise<void>((resolve, reject) =>
    createRangeReader(config, 'test.close-callback').close((err) => {
      calls.push('callback');
      if (err) reject(err);
      else resolve();
    }),
  );
  await new Promise<void>((resolve, reject) =>
    createRangeReader(config, 'test.close-force').close(true, (err) => {
      calls.push('force');
      if (err) reject(err);
      else resolve();
    }),
  );
  assert.deepEqual(calls, ['callback', 'force']);
});
