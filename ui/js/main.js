// Boot: screens, the Docker banner, the live event wiring and reload recovery.

import { call, on } from './api.js';
import { h, replace } from './dom.js';
import * as names from './ui-events.js';
import { createCatalogueView } from './views/catalogue.js';
import { createDeployView } from './views/deploy.js';
import { createEventsView } from './views/events.js';
import { createFleetView } from './views/fleet.js';
import { createPluginsView } from './views/plugins.js';
import { createProgressView } from './views/progress.js';

const SCREENS = ['fleet', 'deploy', 'progress', 'catalogue', 'events', 'plugins'];
/** How many recent latencies the window keeps for inspection (benchmarks read them). */
const KEPT_LATENCIES = 2000;

// How late lifecycle updates reach the page: engine publication → DOM updated, in ms.
const metrics = { lifecycleLatencyMs: [] };
window.chaffMetrics = metrics;
let catalogue = { services: [], strategies: [], archetypes: [], distros: [], os_families: [] };
let active = 'fleet';

const ctx = {
  call,
  catalogue: () => catalogue,
  navigate: show,
  isActive: (screen) => active === screen,
  setBadge(screen, count) {
    const badge = document.querySelector(`#tab-${screen} .count`);
    badge.textContent = count > 0 ? String(count) : '';
    badge.hidden = count === 0;
  },
  track: (rows) => views.progress.track(rows),
  terminal: (entry) => {
    refreshFleetSoon();
    if (entry.status === 'failed') toast(`${entry.decky}: ${entry.operation} failed — ${entry.error ?? ''}`, 'bad');
  },
  toast,
  confirm,
  dialog,
};

const views = {
  fleet: createFleetView(ctx),
  deploy: createDeployView(ctx),
  progress: createProgressView(ctx),
  catalogue: createCatalogueView(ctx),
  events: createEventsView(ctx),
  plugins: createPluginsView(ctx),
};

function show(screen) {
  if (!SCREENS.includes(screen)) screen = 'fleet';
  active = screen;
  for (const name of SCREENS) {
    const tab = document.getElementById(`tab-${name}`);
    tab.setAttribute('aria-selected', String(name === screen));
    tab.tabIndex = name === screen ? 0 : -1;
    document.getElementById(`screen-${name}`).hidden = name !== screen;
  }
  if (location.hash !== `#${screen}`) history.replaceState(null, '', `#${screen}`);
  if (screen === 'fleet') views.fleet.refresh();
  if (screen === 'events') views.events.shown();
  if (screen === 'plugins') views.plugins.refresh();
}

function toast(message, tone = 'ok') {
  const item = h('div', { class: `toast ${tone}`, role: tone === 'bad' ? 'alert' : 'status' }, message);
  document.getElementById('toasts').append(item);
  setTimeout(() => item.remove(), tone === 'bad' ? 9000 : 4000);
}

/** A yes/no question in a modal dialog; resolves true on yes. */
function confirm(question) {
  return new Promise((resolve) => {
    const box = document.getElementById('dialog');
    const answer = (yes) => { box.close(); resolve(yes); };
    replace(box, h('form', { method: 'dialog', class: 'dialog-body' },
      h('p', {}, question),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', onclick: () => answer(false) }, 'Cancel'),
        h('button', { type: 'button', id: 'confirm-yes', class: 'danger', onclick: () => answer(true) }, 'Yes'))));
    box.onclose = () => resolve(false);
    box.showModal();
  });
}

/** A form in a modal dialog; `submit(form)` resolves true to close it. */
function dialog(title, content, action, submit) {
  const box = document.getElementById('dialog');
  const form = h('form', { class: 'dialog-body', novalidate: true },
    h('h3', {}, title), content,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'secondary', onclick: () => box.close() }, 'Cancel'),
      h('button', { type: 'submit', id: 'dialog-submit' }, action)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (await submit(form)) box.close();
  });
  box.onclose = null;
  replace(box, form);
  box.showModal();
  form.querySelector('input, select, textarea')?.focus();
}

function dockerChanged(health) {
  const pill = document.getElementById('docker-pill');
  pill.className = `pill ${health.reachable ? 'ok' : 'bad'}`;
  pill.textContent = health.reachable ? `Docker ${health.version}` : 'Docker unreachable';
  const banner = document.getElementById('banner');
  banner.hidden = health.reachable;
  if (!health.reachable) {
    replace(banner, h('strong', {}, 'Chaff cannot reach Docker. '), health.error ?? '',
      h('p', {}, health.hint ?? ''), h('p', { class: 'small' }, 'You can still design and preview fleets; deploying waits for Docker.'));
  }
  if (health.reachable) refreshFleetSoon();
}

let fleetTimer;
function refreshFleetSoon() {
  clearTimeout(fleetTimer);
  fleetTimer = setTimeout(() => { if (active === 'fleet') views.fleet.refresh(); }, 150);
}

function tabKeys(event) {
  const index = SCREENS.indexOf(active);
  const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: SCREENS.length - 1 }[event.key];
  if (next === undefined) return;
  event.preventDefault();
  const screen = SCREENS[(next + SCREENS.length) % SCREENS.length];
  show(screen);
  document.getElementById(`tab-${screen}`).focus();
}

async function boot() {
  for (const name of SCREENS) document.getElementById(`screen-${name}`).append(views[name].root);
  for (const tab of document.querySelectorAll('[role=tab]')) tab.addEventListener('click', () => show(tab.dataset.view));
  document.querySelector('[role=tablist]').addEventListener('keydown', tabKeys);

  await Promise.all([
    on(names.LIFECYCLE, (p) => {
      views.progress.lifecycleEvent(p);
      metrics.lifecycleLatencyMs.push(Date.now() - p.ts * 1000);
      if (metrics.lifecycleLatencyMs.length > KEPT_LATENCIES) metrics.lifecycleLatencyMs.shift();
    }),
    on(names.SERVICE_ADDED, refreshFleetSoon),
    on(names.SERVICE_REMOVED, refreshFleetSoon),
    on(names.SERVICE_CONFIG_CHANGED, refreshFleetSoon),
    on(names.MUTATION, (p) => { toast(`${p.decky} now runs ${p.new_services.join(', ')}`); refreshFleetSoon(); }),
    on(names.ATTACKER_EVENT, (e) => views.events.live(e)),
    on(names.DOCKER, dockerChanged),
    on(names.LAGGED, () => { views.progress.restore(); refreshFleetSoon(); views.events.reload(); }),
  ]);

  try {
    catalogue = await call('catalogue');
  } catch (error) {
    toast(`Cannot read the catalogue: ${error.message}`, 'bad');
  }
  views.deploy.catalogueLoaded();
  views.catalogue.catalogueLoaded();
  const [health, info] = await Promise.all([call('docker_health'), call('app_info')]);
  dockerChanged(health);
  document.getElementById('data-dir').textContent = info.data_dir;
  if (info.recovered_failed > 0) {
    toast(`${info.recovered_failed} operation(s) were interrupted when Chaff last stopped; see each decky's state.`, 'bad');
  }
  await views.progress.restore();
  views.events.reload();
  show(location.hash.slice(1) || 'fleet');
  document.getElementById('app').dataset.ready = 'true';
}

boot().catch((error) => {
  replace(document.getElementById('banner'), `Chaff could not start its window: ${error.message ?? error}`);
  document.getElementById('banner').hidden = false;
});
