import { test } from 'node:test';
import assert from 'node:assert/strict';
import { controlsFor, readConfig } from '../js/forms.js';

const fields = [
  { key: 'server_header', label: 'Server header', kind: 'text', default: 'Apache', help: 'h', choices: [], secret: false },
  { key: 'response_code', label: 'Code', kind: 'integer', default: 200, choices: [], secret: false },
  { key: 'fake_app', label: 'App', kind: 'choice', default: 'none', choices: ['none', 'wordpress'], secret: false },
  { key: 'http_versions', label: 'Versions', kind: 'multi_choice', default: ['http/1.1'], choices: ['http/1.1', 'http/2'], secret: false },
  { key: 'tls', label: 'TLS', kind: 'boolean', default: false, choices: [], secret: false },
  { key: 'password', label: 'Password', kind: 'text', default: null, choices: [], secret: true },
];

test('one control per field, kinds mapped to inputs, defaults shown', () => {
  const controls = controlsFor(fields);
  assert.deepEqual(controls.map((c) => c.input), ['text', 'number', 'select', 'multi', 'checkbox', 'password']);
  assert.equal(controls[0].value, 'Apache');
  assert.deepEqual(controls[3].value, ['http/1.1']);
});

test('stored values win over defaults; secrets are never shown, only whether set', () => {
  const controls = controlsFor(fields, { server_header: 'nginx', password: null }, ['password']);
  assert.equal(controls[0].value, 'nginx');
  assert.equal(controls[5].value, null);
  assert.equal(controls[5].secretSet, true);
  assert.match(controls[5].placeholder, /unchanged/);
});

test('reading the form: empty text unset, empty secret kept (null), booleans and lists typed', () => {
  const controls = controlsFor(fields);
  const config = readConfig(controls, {
    server_header: '  ', response_code: '404', fake_app: 'wordpress',
    http_versions: ['http/2'], tls: true, password: '',
  });
  assert.deepEqual(config, {
    response_code: '404', fake_app: 'wordpress', http_versions: ['http/2'], tls: true, password: null,
  });
});
