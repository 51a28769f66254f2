// Progress: one bar per decky of every operation started from this window (or still open in
// the engine), kept across reloads (the ids live in sessionStorage, the rows in the engine).

import { h, replace } from '../dom.js';
import { operation } from '../format.js';
import { ProgressBoard, isTerminal } from '../progress.js';

const STORAGE_KEY = 'chaff.progress.ids';

export function createProgressView(ctx) {
  const board = new ProgressBoard();
  const summary = h('p', { id: 'progress-summary', class: 'summary', role: 'status' });
  const list = h('ol', { id: 'progress-list', class: 'progress-list' });
  const clear = h('button', { class: 'secondary', onclick: () => { board.clearFinished(); save(); render(); } }, 'Clear finished');
  const root = h('div', {},
    h('div', { class: 'toolbar' }, h('h2', {}, 'Progress'), clear),
    summary, list);

  function save() {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(board.ids()));
  }

  function render() {
    const { total, succeeded, failed, open } = board.summary();
    summary.textContent = total === 0
      ? 'Nothing running. Deploy, mutate or change a service and its progress shows here.'
      : `${open} running · ${succeeded} succeeded · ${failed} failed`;
    replace(list, board.list().map(entryElement));
    ctx.setBadge('progress', board.summary().open);
  }

  function entryElement(entry) {
    const percent = Math.round(ProgressBoard.fraction(entry) * 100);
    const detail = entry.status === 'failed' ? entry.error ?? 'failed'
      : entry.status === 'succeeded' ? 'done'
        : entry.step ?? (entry.status === 'pending' ? 'waiting to start' : 'starting');
    return h('li', { class: `progress-entry ${entry.status}`, dataset: { decky: entry.decky, id: entry.id, status: entry.status } },
      h('div', { class: 'progress-head' },
        h('strong', {}, entry.decky), h('span', { class: 'muted' }, operation(entry.operation)),
        h('span', { class: `badge ${entry.status}` }, entry.status)),
      h('div', { class: 'bar', role: 'progressbar', 'aria-label': `${entry.decky} ${entry.operation}`,
        'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': percent },
      h('div', { class: 'fill', style: { width: `${percent}%` } })),
      h('div', { class: entry.status === 'failed' ? 'step error-text' : 'step' }, detail));
  }

  return {
    root,
    /** Rows of an accepted operation. */
    track(rows) {
      rows.forEach((row) => board.applyRow(row));
      save();
      render();
    },
    lifecycleEvent(payload) {
      const before = board.entries.get(payload.lifecycle_id);
      const entry = board.applyEvent(payload);
      save();
      render();
      if (isTerminal(entry.status) && !(before && isTerminal(before.status))) ctx.terminal(entry);
    },
    /** After a reload: the rows this window followed, and every row still open. */
    async restore() {
      const ids = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? '[]');
      const [known, open] = await Promise.all([
        ids.length ? ctx.call('lifecycle', { ids }) : [],
        ctx.call('open_lifecycle'),
      ]);
      [...known, ...open].forEach((row) => board.applyRow(row));
      save();
      render();
    },
    render,
  };
}
