// Deploy: an INI (file or paste) or a fleet built in a form → preview (deckies and the
// rendered compose file) → deploy. Errors are shown at the field they are about.

import { h, replace } from '../dom.js';
import { showFieldError } from '../forms.js';
import { DRIVERS, fleetFormToIni, formFieldFor, validateFleetForm } from '../ini.js';

export function createDeployView(ctx) {
  const preview = h('div', { id: 'deploy-preview', class: 'preview' });
  const iniForm = iniPanel();
  const fleetForm = h('form', { id: 'fleet-form', class: 'panel', novalidate: true });
  const root = h('div', {},
    h('div', { class: 'toolbar' }, h('h2', {}, 'Deploy')),
    h('div', { class: 'columns' }, iniForm, fleetForm),
    preview);

  function iniPanel() {
    const text = h('textarea', { id: 'ini-text', name: 'config', rows: 14, spellcheck: false,
      placeholder: '[general]\nnet = 10.50.0.0/24\n\n[web]\namount = 3\nservices = ssh, http' });
    const file = h('input', { id: 'ini-file', type: 'file', accept: '.ini,.txt,text/plain' });
    const name = h('input', { id: 'ini-fleet-name', name: 'fleet_name', value: 'lab', autocomplete: 'off' });
    const replaceBox = h('input', { id: 'ini-replace', type: 'checkbox', name: 'replace' });
    file.addEventListener('change', async () => {
      const chosen = file.files?.[0];
      if (!chosen) return;
      text.value = await chosen.text();
      name.value = chosen.name.replace(/\.[^.]*$/, '').toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 64) || 'lab';
    });
    const form = h('form', { id: 'ini-form', class: 'panel', novalidate: true },
      h('h3', {}, 'Import a deployment INI'),
      h('div', { class: 'field' }, h('label', { for: 'ini-file' }, 'INI file'), file),
      h('div', { class: 'field', dataset: { field: 'config' } }, h('label', { for: 'ini-text' }, 'or paste it'), text,
        h('small', { class: 'error', role: 'alert' })),
      h('div', { class: 'field', dataset: { field: 'fleet_name' } },
        h('label', { for: 'ini-fleet-name' }, 'Fleet name (when [general] has no name=)'), name,
        h('small', { class: 'error', role: 'alert' })),
      h('label', { class: 'check' }, replaceBox, 'Replace the fleet of that name (its deckies not in the file are torn down)'),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', id: 'ini-preview', onclick: () => submit(form, false) }, 'Preview'),
        h('button', { type: 'submit', id: 'ini-deploy' }, 'Deploy')));
    form.addEventListener('submit', (e) => { e.preventDefault(); submit(form, true); });
    form.read = () => ({ text: text.value, fleet_name: name.value || 'lab', replace: replaceBox.checked });
    form.fieldFor = (field) => (field === 'fleet_name' ? 'fleet_name' : 'config');
    return form;
  }

  function buildFleetForm() {
    const catalogue = ctx.catalogue();
    const input = (field, label, attrs = {}, control = null) => h('div', { class: 'field', dataset: { field } },
      h('label', { for: `ff-${field}` }, label),
      control ?? h('input', { id: `ff-${field}`, name: field, autocomplete: 'off', ...attrs }),
      h('small', { class: 'error', role: 'alert' }));
    const select = (field, options, value = '') => h('select', { id: `ff-${field}`, name: field },
      options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
    const services = h('fieldset', { id: 'ff-services', class: 'multi services-pick' }, h('legend', { class: 'sr-only' }, 'Services'),
      catalogue.services.filter((s) => !s.fleet_singleton).map((s) =>
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'services', value: s.slug }), s.slug)));
    replace(fleetForm,
      h('h3', {}, 'Build a fleet'),
      h('div', { class: 'row' },
        input('fleet_name', 'Fleet name', { value: 'lab' }),
        input('prefix', 'Decky name prefix', { value: 'decky' }),
        input('count', 'How many', { type: 'number', min: 1, max: 100, value: 3 })),
      input('mode', 'Services from', {}, select('mode', [['archetype', 'an archetype'], ['services', 'a list of services'], ['random', 'a random draw']], 'archetype')),
      input('archetype', 'Archetype', {}, select('archetype', catalogue.archetypes.map((a) => [a.slug, `${a.slug} — ${a.services.join(', ')}`]))),
      input('services', 'Services', {}, services),
      h('div', { class: 'row' },
        input('os', 'OS persona', {}, select('os', [['', 'from the archetype / linux'], ...catalogue.os_families.map((o) => [o, o])])),
        input('distro', 'Distro', {}, select('distro', [['', 'round-robin'], ...catalogue.distros.map((d) => [d.slug, d.slug])]))),
      h('div', { class: 'row' },
        input('driver', 'Network driver', {}, select('driver', DRIVERS.map((d) => [d, d]), 'bridge')),
        input('parent', 'Parent interface (macvlan/ipvlan)', { placeholder: 'eth0' })),
      h('div', { class: 'row' },
        input('subnet', 'Subnet', { value: '10.50.0.0/24' }),
        input('gateway', 'Gateway', { placeholder: 'first address' }),
        input('mutate_interval', 'Mutate every (minutes)', { type: 'number', min: 1, placeholder: '30' })),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', id: 'ff-preview', onclick: () => submit(fleetForm, false) }, 'Preview'),
        h('button', { type: 'submit', id: 'ff-deploy' }, 'Deploy')));
    const modeChanged = () => {
      const mode = fleetForm.querySelector('[name=mode]').value;
      fleetForm.querySelector('[data-field=archetype]').hidden = mode !== 'archetype';
      fleetForm.querySelector('[data-field=services]').hidden = mode !== 'services';
    };
    fleetForm.querySelector('[name=mode]').addEventListener('change', modeChanged);
    modeChanged();
  }

  fleetForm.addEventListener('submit', (e) => { e.preventDefault(); submit(fleetForm, true); });
  fleetForm.read = () => {
    const value = (name) => fleetForm.querySelector(`[name=${name}]`)?.value ?? '';
    const form = {
      fleet_name: value('fleet_name'), prefix: value('prefix'), count: value('count'), mode: value('mode'),
      archetype: value('archetype'), os: value('os'), distro: value('distro'), driver: value('driver'),
      parent: value('parent'), subnet: value('subnet').trim(), gateway: value('gateway').trim(),
      mutate_interval: value('mutate_interval'),
      services: [...fleetForm.querySelectorAll('[name=services]:checked')].map((i) => i.value),
    };
    const errors = validateFleetForm(form);
    return { errors, text: fleetFormToIni(form), fleet_name: form.fleet_name, replace: false };
  };
  fleetForm.fieldFor = (field) => formFieldFor(field) ?? 'fleet_name';

  async function submit(form, deploy) {
    showFieldError(form, null);
    const request = form.read();
    const first = Object.entries(request.errors ?? {})[0];
    if (first) {
      for (const [field, message] of Object.entries(request.errors)) showFieldError(form, field, message);
      showFieldError(form, first[0], first[1]);
      return;
    }
    const args = { text: request.text, fleet_name: request.fleet_name, replace: request.replace };
    try {
      if (deploy) {
        const accepted = await ctx.call('deploy_ini', args);
        ctx.track(accepted.rows);
        ctx.toast(`Deploying ${accepted.rows.length} decky(s)`);
        ctx.navigate('progress');
      } else {
        showPreview(await ctx.call('preview_ini', args));
      }
    } catch (error) {
      showFieldError(form, form.fieldFor(error.field), error.message);
      replace(preview, h('p', { class: 'error-text', role: 'alert' }, `${error.code}: ${error.message}`));
    }
  }

  function showPreview(p) {
    replace(preview,
      h('h3', {}, `Preview: fleet ${p.fleet} on ${p.network.driver} ${p.network.subnet}`),
      h('table', { class: 'grid', id: 'preview-table' },
        h('thead', {}, h('tr', {}, ['Decky', 'IP', 'Hostname', 'OS', 'Distro', 'Services'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, p.deckies.map((d) => h('tr', {},
          h('th', { scope: 'row' }, d.name), h('td', { class: 'mono' }, d.ip), h('td', {}, d.hostname),
          h('td', {}, d.os_family), h('td', {}, d.distro), h('td', { class: 'chips' }, d.services.map((s) => h('span', { class: 'chip' }, s))))))),
      h('details', { open: true }, h('summary', {}, 'Rendered compose file'), h('pre', { class: 'code', id: 'compose-yaml' }, p.compose_yaml)));
  }

  return { root, catalogueLoaded: buildFleetForm };
}
