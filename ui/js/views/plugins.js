// Plugins: what is loaded, each plugin's sandbox limits and state, why a third-party plugin
// was refused; trust or stop trusting a third-party build.

import { h, replace } from '../dom.js';

export function createPluginsView(ctx) {
  const body = h('div', {});
  const root = h('div', {}, h('div', { class: 'toolbar' }, h('h2', {}, 'Plugins'),
    h('button', { class: 'secondary', onclick: () => refresh() }, 'Refresh')), body);

  function state(plugin) {
    if (plugin.state.state === 'enabled') return h('span', { class: 'badge ok' }, 'enabled');
    const reason = plugin.state.reason;
    const why = reason.reason === 'untrusted' ? 'not trusted'
      : reason.reason === 'repeated_timeouts' ? `timed out ${reason.count}× in a row` : reason.error;
    return [h('span', { class: 'badge bad' }, 'disabled'), h('div', { class: 'small' }, why)];
  }

  async function trust(plugin, yes) {
    const verb = yes ? 'Trust' : 'Stop trusting';
    if (!(await ctx.confirm(`${verb} ${plugin.id} ${plugin.version} (sha256 ${plugin.sha256.slice(0, 16)}…)? It takes effect when Chaff next starts.`))) return;
    try {
      await ctx.call(yes ? 'trust_plugin' : 'untrust_plugin', { id: plugin.id });
      ctx.toast(`${plugin.id}: ${yes ? 'trusted' : 'no longer trusted'}; restart Chaff to apply`);
    } catch (error) {
      ctx.toast(error.message, 'bad');
    }
  }

  async function refresh() {
    const view = await ctx.call('plugins');
    replace(body,
      h('table', { class: 'grid', id: 'plugins-table' },
        h('thead', {}, h('tr', {}, ['Plugin', 'Kind', 'Origin', 'State', 'Provides', 'Limits', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, view.plugins.map((p) => {
          const thirdParty = p.origin.origin === 'third_party';
          const limits = `${p.limits.memory_bytes >> 20} MiB · ${p.limits.call_budget_ms} ms/call · ${p.limits.output_bytes >> 10} KiB out`;
          return h('tr', { dataset: { plugin: p.id } },
            h('th', { scope: 'row' }, p.id, h('div', { class: 'muted small mono' }, `${p.version} · ${p.sha256.slice(0, 12)}`)),
            h('td', {}, p.kind), h('td', {}, thirdParty ? (p.origin.trusted ? 'third-party, trusted' : 'third-party') : 'built-in'),
            h('td', {}, state(p)), h('td', { class: 'small' }, [...p.services, ...p.strategies].join(', ') || '—'),
            h('td', { class: 'small' }, limits),
            h('td', {}, thirdParty
              ? h('button', { class: p.origin.trusted ? 'small danger' : 'small', onclick: () => trust(p, !p.origin.trusted) },
                p.origin.trusted ? 'Stop trusting' : 'Trust')
              : '—'));
        }))),
      view.refused.length
        ? h('section', { class: 'panel' }, h('h3', {}, 'Refused at start-up'), h('ul', {}, view.refused.map((r) => h('li', { class: 'error-text' }, r))))
        : null,
      h('p', { class: 'muted' }, 'Third-party plugins are installed as ', h('code', {}, `${view.install_dir}/<id>/`),
        ' (plugin.toml and plugin.wasm). They run sandboxed and load only once their exact build is trusted.'));
  }

  return { root, refresh };
}
