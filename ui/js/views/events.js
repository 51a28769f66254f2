// Events: the live feed of what attackers did, filtered by decky, service, kind and text, with
// the full record of one event on demand. Attacker text is only ever shown as text.

import { h, replace } from '../dom.js';
import { dateTime, eventSummary } from '../format.js';

const SHOWN = 500;

export function createEventsView(ctx) {
  let events = [];
  let unseen = 0;
  const input = (name, label, attrs = {}) => h('label', { class: 'filter' }, label,
    h('input', { name, id: `ev-${name}`, autocomplete: 'off', ...attrs }));
  const filters = h('form', { id: 'event-filters', class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); reload(); } },
    input('decky', 'Decky'), input('service', 'Service'), input('kind', 'Kind'), input('text', 'Text', { type: 'search' }),
    h('button', { type: 'submit', class: 'secondary' }, 'Filter'));
  for (const field of filters.querySelectorAll('input')) field.addEventListener('input', debounce(reload, 250));
  const feed = h('tbody', { id: 'event-feed' });
  const detail = h('aside', { id: 'event-detail', class: 'panel detail' }, h('p', { class: 'muted' }, 'Choose an event to see everything it recorded.'));
  const count = h('p', { class: 'muted', role: 'status', id: 'event-count' });
  const root = h('div', {},
    h('div', { class: 'toolbar' }, h('h2', {}, 'Attacker events')),
    filters, count,
    h('div', { class: 'columns wide-left' },
      h('table', { class: 'grid feed' },
        h('thead', {}, h('tr', {}, ['Time', 'Source', 'Decky', 'Service', 'Kind', 'What'].map((t) => h('th', { scope: 'col' }, t)))),
        feed),
      detail));

  function filter() {
    const value = (name) => filters.querySelector(`[name=${name}]`).value.trim();
    return { decky: value('decky'), service: value('service'), kind: value('kind'), text: value('text') };
  }

  function matches(event, f) {
    return (!f.decky || event.decky === f.decky) && (!f.service || event.service === f.service)
      && (!f.kind || event.kind === f.kind) && (!f.text || JSON.stringify(event).toLowerCase().includes(f.text.toLowerCase()));
  }

  async function reload() {
    try {
      events = (await ctx.call('attacker_events', { filter: { ...filter(), limit: SHOWN } })).reverse();
      render();
    } catch (error) {
      count.textContent = error.message;
    }
  }

  function render() {
    count.textContent = events.length ? `${events.length} event(s), newest first` : 'No events yet. Connect to a decky and what happens shows here.';
    replace(feed, events.map(rowFor));
  }

  function rowFor(event) {
    return h('tr', { tabindex: 0, dataset: { id: event.id, kind: event.kind, decky: event.decky },
      onclick: () => show(event), onkeydown: (e) => { if (e.key === 'Enter') show(event); } },
    h('td', { class: 'mono small' }, dateTime(event.ts)), h('td', { class: 'mono' }, event.src_ip ?? '—'),
    h('td', {}, event.decky), h('td', {}, event.service), h('td', {}, h('span', { class: 'badge idle' }, event.kind)),
    h('td', { class: 'clip' }, eventSummary(event)));
  }

  function show(event) {
    replace(detail, h('h3', {}, `${event.kind} on ${event.decky} (${event.service})`),
      h('p', { class: 'muted' }, `${dateTime(event.ts)} · from ${event.src_ip ?? 'unknown'} · event ${event.id}`),
      h('pre', { class: 'code', id: 'event-json' }, JSON.stringify(event, null, 2)));
  }

  return {
    root,
    reload,
    /** A live `chaff:attacker-event`. */
    live(event) {
      if (!matches(event, filter())) return;
      events.unshift(event);
      events.length = Math.min(events.length, SHOWN);
      render();
      if (!ctx.isActive('events')) ctx.setBadge('events', ++unseen);
    },
    shown() {
      unseen = 0;
      ctx.setBadge('events', 0);
    },
  };
}

function debounce(f, ms) {
  let timer;
  return () => { clearTimeout(timer); timer = setTimeout(f, ms); };
}
