// Catalogue: the services the plugins provide (ports, description, a preview of the config form
// generated from their declared fields), the strategies and the host archetypes.

import { h, replace } from '../dom.js';
import { ports } from '../format.js';
import { controlsFor, renderControls } from '../forms.js';

export function createCatalogueView(ctx) {
  const detail = h('aside', { id: 'service-detail', class: 'panel detail', 'aria-live': 'polite' },
    h('p', { class: 'muted' }, 'Choose a service to see its settings.'));
  const body = h('div', { class: 'catalogue' });
  const root = h('div', {}, h('div', { class: 'toolbar' }, h('h2', {}, 'Catalogue')), body);

  function show(service) {
    replace(detail,
      h('h3', {}, `${service.display_name} (${service.slug})`),
      h('p', {}, service.description),
      h('p', { class: 'muted' }, `Ports: ${ports(service.ports)} · ${service.fleet_singleton ? 'one per fleet' : 'per decky'}`
        + (service.capabilities.length ? ` · capabilities: ${service.capabilities.join(', ')}` : '')),
      h('form', { class: 'config-preview', onsubmit: (e) => e.preventDefault() },
        h('fieldset', { disabled: true }, h('legend', {}, 'Settings (as the add-service form shows them)'),
          renderControls(controlsFor(service.fields), `cat-${service.slug}`))));
  }

  function render(catalogue) {
    const services = h('table', { class: 'grid', id: 'catalogue-table' },
      h('thead', {}, h('tr', {}, ['Service', 'Ports', 'Scope', 'Settings', 'Description'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, catalogue.services.map((s) => h('tr', { dataset: { service: s.slug } },
        h('th', { scope: 'row' }, h('button', { class: 'link', onclick: () => show(s) }, s.slug)),
        h('td', { class: 'mono' }, ports(s.ports)),
        h('td', {}, s.fleet_singleton ? 'fleet' : 'decky'),
        h('td', {}, s.fields.length ? `${s.fields.length}${s.fields.some((f) => f.secret) ? ' (secrets)' : ''}` : '—'),
        h('td', {}, s.description)))));
    const strategies = h('ul', { class: 'plain' }, catalogue.strategies.map((s) =>
      h('li', {}, h('strong', {}, s.id), ` (${s.kind}) — ${s.description}`,
        s.parameters?.length ? h('span', { class: 'muted' }, ` · parameters: ${s.parameters.map((p) => p.key ?? p.name).join(', ')}`) : null)));
    const archetypes = h('ul', { class: 'plain' }, catalogue.archetypes.map((a) =>
      h('li', {}, h('strong', {}, a.slug), ` — ${a.description} `, h('span', { class: 'muted' }, `(${a.os_family}: ${a.services.join(', ')})`))));
    replace(body,
      h('div', { class: 'columns wide-left' }, h('section', {}, services), detail),
      h('div', { class: 'columns' },
        h('section', { class: 'panel' }, h('h3', {}, 'Strategies'), strategies),
        h('section', { class: 'panel' }, h('h3', {}, 'Archetypes'), archetypes)));
  }

  return { root, catalogueLoaded: () => render(ctx.catalogue()) };
}
