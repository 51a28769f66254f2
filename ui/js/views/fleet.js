// Fleet: every decky with its services, state and last mutation; actions per decky and in bulk.

import { h, replace } from '../dom.js';
import { ago, deckyState, deckyTone } from '../format.js';
import { controlsFor, rawValues, readConfig, renderControls, showFieldError } from '../forms.js';

export function createFleetView(ctx) {
  const selected = new Set();
  let status = null;
  const body = h('div', { id: 'fleet-body' });
  const bulk = h('button', { id: 'teardown-selected', class: 'danger', disabled: true, onclick: teardownSelected }, 'Tear down selected');
  const all = h('button', { id: 'teardown-all', class: 'danger secondary', onclick: teardownAll }, 'Tear down everything');
  const root = h('div', {},
    h('div', { class: 'toolbar' }, h('h2', {}, 'Fleet'),
      h('button', { class: 'secondary', onclick: () => refresh() }, 'Refresh'), bulk, all),
    body);

  async function refresh() {
    try {
      status = await ctx.call('fleet_status');
    } catch (error) {
      replace(body, h('p', { class: 'error-text' }, error.message));
      return;
    }
    render();
  }

  function deckies() {
    return (status?.fleets ?? []).flatMap((fleet) => fleet.deckies.map((d) => ({ ...d, fleet: fleet.name })));
  }

  function render() {
    const list = deckies();
    for (const name of [...selected]) if (!list.some((d) => d.name === name)) selected.delete(name);
    bulk.disabled = selected.size === 0;
    all.disabled = list.length === 0;
    if (list.length === 0) {
      replace(body, h('div', { class: 'empty', id: 'fleet-empty' },
        h('h3', {}, 'No deckies yet'),
        h('p', {}, 'A fleet is a set of decoy hosts on their own network. Import a deployment INI or build one in a form.'),
        h('button', { onclick: () => ctx.navigate('deploy') }, 'Deploy a fleet')));
      return;
    }
    replace(body, h('table', { class: 'grid', id: 'fleet-table' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Select')),
        ['Name', 'IP', 'OS', 'Archetype', 'Services', 'State', 'Last mutation', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, list.map(rowFor))));
  }

  function rowFor(decky) {
    const busy = decky.last_operation && !['succeeded', 'failed'].includes(decky.last_operation.status);
    return h('tr', { dataset: { decky: decky.name } },
      h('td', {}, h('input', {
        type: 'checkbox', 'aria-label': `Select ${decky.name}`, checked: selected.has(decky.name),
        onchange: (e) => { e.target.checked ? selected.add(decky.name) : selected.delete(decky.name); bulk.disabled = selected.size === 0; },
      })),
      h('th', { scope: 'row' }, decky.name, h('div', { class: 'muted small' }, decky.hostname)),
      h('td', { class: 'mono' }, decky.ip),
      h('td', {}, decky.os_family),
      h('td', {}, decky.archetype ?? '—'),
      h('td', { class: 'chips' }, decky.services.map((service) => chip(decky, service))),
      h('td', {}, h('span', { class: `badge ${deckyTone(decky.state)}` }, deckyState(decky.state)),
        busy ? h('div', { class: 'muted small' }, `${decky.last_operation.operation} ${decky.last_operation.status}`) : null),
      h('td', {}, ago(decky.last_mutated, Date.now())),
      h('td', { class: 'actions' },
        h('button', { class: 'small', onclick: () => mutate(decky) }, 'Mutate'),
        h('button', { class: 'small', dataset: { action: 'add-service' }, onclick: () => addService(decky) }, 'Add service'),
        h('button', { class: 'small danger', onclick: () => teardown(decky) }, 'Tear down')));
  }

  function chip(decky, service) {
    return h('span', { class: 'chip', dataset: { service } },
      h('button', { class: 'chip-label', title: `Edit ${service} settings`, onclick: () => editConfig(decky, service) }, service),
      h('button', { class: 'chip-remove', 'aria-label': `Remove ${service} from ${decky.name}`, onclick: () => removeService(decky, service) }, '×'));
  }

  async function run(label, promise) {
    try {
      const accepted = await promise;
      ctx.track(accepted.rows);
      ctx.toast(`${label}: started`);
      return true;
    } catch (error) {
      ctx.toast(error.message, 'bad');
      return false;
    }
  }

  function mutate(decky) {
    run(`Mutate ${decky.name}`, ctx.call('mutate_decky', { decky: decky.name }));
  }

  async function teardown(decky) {
    if (await ctx.confirm(`Tear down ${decky.name}? Its containers are removed and it leaves the fleet.`)) {
      run(`Tear down ${decky.name}`, ctx.call('teardown_decky', { decky: decky.name }));
    }
  }

  async function teardownSelected() {
    const names = [...selected];
    if (!(await ctx.confirm(`Tear down ${names.length} decky(s): ${names.join(', ')}?`))) return;
    for (const name of names) await run(`Tear down ${name}`, ctx.call('teardown_decky', { decky: name }));
    selected.clear();
  }

  async function teardownAll() {
    if (await ctx.confirm('Tear down every fleet? All deckies, their containers and networks are removed.')) {
      run('Tear down everything', ctx.call('teardown_all'));
    }
  }

  async function removeService(decky, service) {
    if (decky.services.length === 1) {
      ctx.toast(`${service} is the last service of ${decky.name}; tear the decky down instead.`, 'bad');
      return;
    }
    if (await ctx.confirm(`Remove ${service} from ${decky.name}?`)) {
      run(`Remove ${service}`, ctx.call('remove_service', { decky: decky.name, service }));
    }
  }

  function addService(decky) {
    const choices = ctx.catalogue().services.filter((s) => !s.fleet_singleton && !decky.services.includes(s.slug));
    const select = h('select', { id: 'add-service-select', name: 'service' },
      choices.map((s) => h('option', { value: s.slug }, `${s.slug} — ${s.display_name}`)));
    const fields = h('div', { class: 'fields' });
    let controls = [];
    const showFields = () => {
      const spec = choices.find((s) => s.slug === select.value);
      controls = controlsFor(spec?.fields ?? []);
      replace(fields, renderControls(controls, 'add'));
    };
    select.addEventListener('change', showFields);
    showFields();
    ctx.dialog(`Add a service to ${decky.name}`, [
      h('div', { class: 'field', dataset: { field: 'service' } }, h('label', { for: 'add-service-select' }, 'Service'), select,
        h('small', { class: 'error', role: 'alert' })),
      fields,
    ], 'Add', async (form) => {
      const config = readConfig(controls, rawValues(form, controls));
      try {
        const accepted = await ctx.call('add_service', { decky: decky.name, service: select.value, config });
        ctx.track(accepted.rows);
        return true;
      } catch (error) {
        if (!showFieldError(form, error.field ?? 'service', error.message)) showFieldError(form, 'service', error.message);
        return false;
      }
    });
  }

  async function editConfig(decky, service) {
    const spec = ctx.catalogue().services.find((s) => s.slug === service);
    let stored;
    try {
      stored = await ctx.call('service_config', { decky: decky.name, service });
    } catch (error) {
      ctx.toast(error.message, 'bad');
      return;
    }
    const controls = controlsFor(spec?.fields ?? [], stored.values, stored.secrets_set);
    const apply = h('input', { type: 'checkbox', id: 'config-apply', name: 'apply', checked: true });
    ctx.dialog(`${service} on ${decky.name}`, [
      ...renderControls(controls, 'config'),
      h('label', { class: 'check' }, apply, 'Recreate the container now (otherwise it applies at the next change)'),
    ], 'Save', async (form) => {
      const config = readConfig(controls, rawValues(form, controls));
      try {
        const accepted = await ctx.call('configure_service', { decky: decky.name, service, config, apply: apply.checked });
        ctx.track(accepted.rows);
        return true;
      } catch (error) {
        showFieldError(form, error.field, error.message) || ctx.toast(error.message, 'bad');
        return false;
      }
    });
  }

  return { root, refresh, deckies };
}
