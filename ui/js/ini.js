// The "build a fleet" form → a deployment INI, so a form-built fleet goes through exactly the
// import, validation and rendering an INI file does. Pure.

const NAME = /^[a-z0-9-]{1,64}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const DRIVERS = ['bridge', 'macvlan', 'ipvlan'];

/** The form's obvious mistakes, field → message; empty when it may be sent. */
export function validateFleetForm(form) {
  const errors = {};
  if (!NAME.test(form.fleet_name ?? '')) errors.fleet_name = 'Lower-case letters, digits and dashes, 1 to 64.';
  if (!NAME.test(form.prefix ?? '') || form.prefix.length > 60) {
    errors.prefix = 'Lower-case letters, digits and dashes, 1 to 60.';
  }
  const count = Number(form.count);
  if (!Number.isInteger(count) || count < 1 || count > 100) errors.count = 'A whole number from 1 to 100.';
  if (form.mode === 'archetype' && !form.archetype) errors.archetype = 'Choose an archetype.';
  if (form.mode === 'services' && (!form.services || form.services.length === 0)) {
    errors.services = 'Choose at least one service.';
  }
  const [address, prefix, extra] = String(form.subnet ?? '').split('/');
  const bits = Number(prefix);
  if (extra !== undefined || !IPV4.test(address ?? '') || !Number.isInteger(bits) || prefix === '' || bits < 8 || bits > 30) {
    errors.subnet = 'An IPv4 subnet like 10.50.0.0/24 (prefix 8 to 30).';
  }
  if (form.gateway && !IPV4.test(form.gateway)) errors.gateway = 'An IPv4 address, or empty for the first one.';
  if (!DRIVERS.includes(form.driver)) errors.driver = 'bridge, macvlan or ipvlan.';
  if (form.driver !== 'bridge' && !(form.parent ?? '').trim()) {
    errors.parent = `${form.driver} needs the host interface to attach to (e.g. eth0).`;
  }
  if (form.mutate_interval !== '' && form.mutate_interval !== undefined) {
    const minutes = Number(form.mutate_interval);
    if (!Number.isInteger(minutes) || minutes < 1) errors.mutate_interval = 'Minutes, at least 1; empty for 30.';
  }
  return errors;
}

/** The INI text for a valid form. */
export function fleetFormToIni(form) {
  const lines = ['[general]', `name = ${form.fleet_name}`, `net = ${form.subnet}`];
  if (form.gateway) lines.push(`gw = ${form.gateway}`);
  lines.push(`driver = ${form.driver}`);
  if (form.driver !== 'bridge') lines.push(`parent = ${form.parent.trim()}`);
  if (form.mutate_interval) lines.push(`mutate_interval = ${Number(form.mutate_interval)}`);
  lines.push('', `[${form.prefix}]`);
  if (Number(form.count) > 1) lines.push(`amount = ${Number(form.count)}`);
  if (form.mode === 'archetype') lines.push(`archetype = ${form.archetype}`);
  if (form.mode === 'services') lines.push(`services = ${form.services.join(', ')}`);
  if (form.os) lines.push(`nmap_os = ${form.os}`);
  if (form.distro) lines.push(`distro = ${form.distro}`);
  return lines.join('\n') + '\n';
}

/** Form field an engine error belongs to (engine fields are INI keys). */
export function formFieldFor(engineField) {
  return {
    net: 'subnet', gw: 'gateway', amount: 'count', name: 'fleet_name', nmap_os: 'os',
    interface: 'parent', services: 'services', archetype: 'archetype', driver: 'driver',
    parent: 'parent', mutate_interval: 'mutate_interval', distro: 'distro',
  }[engineField] ?? null;
}
