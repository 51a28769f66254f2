// The bridge to the engine: Tauri's global API (app.withGlobalTauri), nothing else.

function tauri() {
  if (!window.__TAURI__) throw normalize('Chaff runs inside its desktop app; open it with ./run.sh app');
  return window.__TAURI__;
}

/** Every failure as `{code, message, field?}`. */
export function normalize(error) {
  if (error && typeof error === 'object' && 'message' in error) {
    return { code: error.code ?? 'internal', message: String(error.message), field: error.field ?? null };
  }
  return { code: 'internal', message: String(error), field: null };
}

/** Calls command `name` with snake_case `args`; rejects with `{code, message, field}`. */
export async function call(name, args = {}) {
  try {
    return await tauri().core.invoke(name, args);
  } catch (error) {
    throw normalize(error);
  }
}

/** Calls `handler(payload)` for every event `name`. */
export function on(name, handler) {
  return tauri().event.listen(name, (event) => handler(event.payload));
}
