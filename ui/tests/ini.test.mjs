import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fleetFormToIni, formFieldFor, validateFleetForm } from '../js/ini.js';

const good = {
  fleet_name: 'lab', prefix: 'web', count: '3', mode: 'services', services: ['ssh', 'http'],
  archetype: '', os: 'linux', distro: '', driver: 'bridge', parent: '', subnet: '10.50.0.0/24',
  gateway: '', mutate_interval: '',
};

test('a valid form becomes the INI the importer reads', () => {
  assert.deepEqual(validateFleetForm(good), {});
  assert.equal(fleetFormToIni(good),
    '[general]\nname = lab\nnet = 10.50.0.0/24\ndriver = bridge\n\n[web]\namount = 3\nservices = ssh, http\nnmap_os = linux\n');
  const one = fleetFormToIni({ ...good, count: '1', mode: 'archetype', archetype: 'windows-server', os: '',
    driver: 'macvlan', parent: 'eth0', gateway: '10.50.0.254', mutate_interval: '45' });
  assert.equal(one,
    '[general]\nname = lab\nnet = 10.50.0.0/24\ngw = 10.50.0.254\ndriver = macvlan\nparent = eth0\nmutate_interval = 45\n\n[web]\narchetype = windows-server\n');
});

test('each mistake is reported at its field', () => {
  const errors = validateFleetForm({ ...good, fleet_name: 'Lab!', count: '101', subnet: '10.0.0.0/33',
    driver: 'ipvlan', parent: ' ', mode: 'services', services: [], gateway: '10.0.0', mutate_interval: '0' });
  assert.deepEqual(Object.keys(errors).sort(),
    ['count', 'fleet_name', 'gateway', 'mutate_interval', 'parent', 'services', 'subnet']);
  assert.deepEqual(Object.keys(validateFleetForm({ ...good, subnet: '10.0.0.0' })), ['subnet']);
  assert.deepEqual(Object.keys(validateFleetForm({ ...good, mode: 'archetype', archetype: '' })), ['archetype']);
});

test('engine fields map back to form fields', () => {
  assert.equal(formFieldFor('net'), 'subnet');
  assert.equal(formFieldFor('amount'), 'count');
  assert.equal(formFieldFor('config'), null);
});
