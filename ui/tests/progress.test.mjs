import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressBoard } from '../js/progress.js';

const row = (id, decky, status, extra = {}) => ({ id, decky, operation: 'deploy', status, ...extra });
const event = (id, decky, status, extra = {}) => ({ lifecycle_id: id, decky, operation: 'deploy', status, ...extra });

test('rows then events move an entry along, with step progress', () => {
  const board = new ProgressBoard();
  board.applyRow(row('a', 'web-1', 'pending'));
  assert.equal(ProgressBoard.fraction(board.entries.get('a')), 0);
  board.applyEvent(event('a', 'web-1', 'running', { step: 'create web-1', progress: { done: 1, total: 4 } }));
  const running = board.entries.get('a');
  assert.equal(running.step, 'create web-1');
  assert.ok(ProgressBoard.fraction(running) > 0 && ProgressBoard.fraction(running) < 0.5);
  board.applyEvent(event('a', 'web-1', 'running', { step: 'start web-1-ssh', progress: { done: 4, total: 4 } }));
  assert.ok(ProgressBoard.fraction(board.entries.get('a')) > 0.8);
  board.applyEvent(event('a', 'web-1', 'succeeded'));
  assert.equal(ProgressBoard.fraction(board.entries.get('a')), 1);
  assert.equal(board.entries.get('a').step, 'start web-1-ssh', 'a plain status change keeps the last step');
});

test('a terminal entry never goes back', () => {
  const board = new ProgressBoard();
  board.applyEvent(event('a', 'web-1', 'failed', { error: 'boom' }));
  board.applyEvent(event('a', 'web-1', 'running', { step: 'late' }));
  board.applyRow(row('a', 'web-1', 'pending'));
  assert.equal(board.entries.get('a').status, 'failed');
  assert.equal(board.entries.get('a').error, 'boom');
});

test('summary, open ids, ordering and clearing', () => {
  const board = new ProgressBoard();
  board.applyRow(row('b', 'web-2', 'running'));
  board.applyRow(row('a', 'web-1', 'succeeded'));
  board.applyRow(row('c', 'db-1', 'failed', { error: 'x' }));
  assert.deepEqual(board.list().map((e) => e.decky), ['db-1', 'web-1', 'web-2']);
  assert.deepEqual(board.summary(), { total: 3, succeeded: 1, failed: 1, open: 1 });
  assert.deepEqual(board.openIds(), ['b']);
  board.clearFinished();
  assert.deepEqual(board.ids(), ['b']);
});
