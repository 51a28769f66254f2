// The progress board: one entry per lifecycle row, fed by rows (after a reload) and by
// lifecycle events (live). Pure: no DOM, no storage.
//
// Invariant: a terminal entry (succeeded, failed) never goes back, whatever arrives later —
// the engine never reopens a terminal row, so a late or duplicated event is stale.

const TERMINAL = new Set(['succeeded', 'failed']);

export function isTerminal(status) {
  return TERMINAL.has(status);
}

export class ProgressBoard {
  constructor() {
    this.entries = new Map();
  }

  /** A lifecycle row from the engine (query by id, open rows, an accepted operation). */
  applyRow(row) {
    return this.#merge({
      id: row.id,
      decky: row.decky,
      operation: row.operation,
      status: row.status,
      step: row.step ?? null,
      error: row.error ?? null,
    });
  }

  /** A `chaff:lifecycle` event payload. */
  applyEvent(payload) {
    return this.#merge({
      id: payload.lifecycle_id,
      decky: payload.decky,
      operation: payload.operation,
      status: payload.status,
      step: payload.step ?? null,
      error: payload.error ?? null,
      done: payload.progress?.done,
      total: payload.progress?.total,
    });
  }

  #merge(update) {
    const current = this.entries.get(update.id);
    if (current && isTerminal(current.status) && !isTerminal(update.status)) return current;
    const next = { done: 0, total: 0, ...current };
    for (const [key, value] of Object.entries(update)) {
      if (value !== undefined && !(value === null && key === 'step' && current?.step)) next[key] = value;
    }
    this.entries.set(update.id, next);
    return next;
  }

  /** 0..1: pending 0; running by steps started (at least a sliver); terminal 1. */
  static fraction(entry) {
    if (isTerminal(entry.status)) return 1;
    if (entry.status !== 'running') return 0;
    if (!entry.total) return 0.05;
    return Math.min(0.95, Math.max(0.05, (entry.done - 1) / entry.total + 0.5 / entry.total));
  }

  list() {
    return [...this.entries.values()].sort((a, b) => a.decky.localeCompare(b.decky) || a.id.localeCompare(b.id));
  }

  ids() {
    return [...this.entries.keys()];
  }

  openIds() {
    return this.list().filter((e) => !isTerminal(e.status)).map((e) => e.id);
  }

  summary() {
    const list = this.list();
    const count = (status) => list.filter((e) => e.status === status).length;
    return {
      total: list.length,
      succeeded: count('succeeded'),
      failed: count('failed'),
      open: list.length - count('succeeded') - count('failed'),
    };
  }

  /** Forgets finished entries; the open ones stay. */
  clearFinished() {
    for (const [id, entry] of this.entries) if (isTerminal(entry.status)) this.entries.delete(id);
  }
}
