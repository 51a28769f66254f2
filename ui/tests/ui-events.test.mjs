// The UI listens to exactly the events the engine side names (crates/chaff-app/src/ui_events.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as names from '../js/ui-events.js';

test('event names match the Rust side', () => {
  const rust = readFileSync(new URL('../../crates/chaff-app/src/ui_events.rs', import.meta.url), 'utf8');
  const declared = Object.fromEntries(
    [...rust.matchAll(/pub const ([A-Z_]+): &str = "(chaff:[a-z-]+)";/g)].map((m) => [m[1], m[2]]));
  assert.ok(Object.keys(declared).length >= 8);
  assert.deepEqual({ ...names }, declared);
});
