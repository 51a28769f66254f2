// Formatting for display. Pure: time comes in as an argument.

/** "22/tcp, 53/udp" */
export function ports(list) {
  if (!list || list.length === 0) return '—';
  return list.map((p) => `${p.number}/${p.transport}`).join(', ');
}

/** Seconds since the epoch → "just now", "5 min ago", "3 h ago", "2 d ago"; 0 → "never". */
export function ago(unixSeconds, nowMs) {
  if (!unixSeconds) return 'never';
  const seconds = Math.max(0, Math.round(nowMs / 1000 - unixSeconds));
  if (seconds < 45) return 'just now';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

/** An RFC 3339 timestamp or epoch seconds → "2026-11-22 14:03:09" in local time. */
export function dateTime(value) {
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value ?? '');
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** "add_service" → "Add service". */
export function operation(name) {
  const words = String(name ?? '').replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The tone a decky's state is shown in: ok, bad or idle. */
export function deckyTone(state) {
  return { running: 'ok', degraded: 'bad', absent: 'bad' }[state] ?? 'idle';
}

/** A decky's state as the fleet table shows it. */
export function deckyState(state) {
  return { running: 'Running', degraded: 'Degraded', absent: 'Not running', unknown: 'Unknown' }[state] ?? state;
}

/** The one-line summary of an attacker event for the feed. */
export function eventSummary(event) {
  const who = event.src_ip ? `${event.src_ip}` : 'unknown source';
  const port = event.dst_port ? `:${event.dst_port}` : '';
  const detail = ['username', 'user', 'command', 'path', 'query', 'method']
    .filter((key) => typeof event[key] === 'string' && event[key] !== '')
    .map((key) => `${key}=${event[key]}`)
    .join(' ');
  return `${who} → ${event.decky}${port} ${event.service} ${event.kind}${detail ? ' · ' + detail : ''}`;
}
