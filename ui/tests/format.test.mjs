import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ago, deckyTone, eventSummary, operation, ports } from '../js/format.js';

test('ports', () => {
  assert.equal(ports([{ number: 22, transport: 'tcp' }, { number: 53, transport: 'udp' }]), '22/tcp, 53/udp');
  assert.equal(ports([]), '—');
});

test('relative time takes now as an argument', () => {
  const now = 1_700_000_000_000;
  assert.equal(ago(0, now), 'never');
  assert.equal(ago(1_700_000_000 - 10, now), 'just now');
  assert.equal(ago(1_700_000_000 - 300, now), '5 min ago');
  assert.equal(ago(1_700_000_000 - 7200, now), '2 h ago');
  assert.equal(ago(1_700_000_000 - 3 * 86400, now), '3 d ago');
});

test('labels and tones', () => {
  assert.equal(operation('add_service'), 'Add service');
  assert.equal(deckyTone('running'), 'ok');
  assert.equal(deckyTone('degraded'), 'bad');
  assert.equal(deckyTone('unknown'), 'idle');
});

test('event summary shows who, where and the interesting field', () => {
  const text = eventSummary({
    src_ip: '10.0.0.9', dst_port: 22, decky: 'web-1', service: 'ssh', kind: 'login',
    username: 'root', password: 'x',
  });
  assert.equal(text, '10.0.0.9 → web-1:22 ssh login · username=root');
});
