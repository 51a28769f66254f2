// Config forms generated from a service's declared fields (kind, default, choices, secret).
// `controlsFor` and `readConfig` are pure; `renderControls` and `rawValues` touch the DOM.

import { h } from './dom.js';

const INPUT_FOR_KIND = {
  text: 'text',
  password: 'password',
  integer: 'number',
  boolean: 'checkbox',
  textarea: 'textarea',
  choice: 'select',
  multi_choice: 'multi',
};

/**
 * One control per field. `values` are the stored values (secrets come as null), `secretsSet`
 * names the secret fields that have a stored value.
 */
export function controlsFor(fields, values = {}, secretsSet = []) {
  return fields.map((field) => {
    const stored = values[field.key];
    const value = stored ?? (field.secret ? null : field.default ?? null);
    return {
      key: field.key,
      label: field.label || field.key,
      input: field.secret ? 'password' : INPUT_FOR_KIND[field.kind] ?? 'text',
      value,
      choices: field.choices ?? [],
      help: field.help ?? '',
      placeholder: field.secret && secretsSet.includes(field.key) ? '•••••• (unchanged)' : field.placeholder ?? '',
      secret: Boolean(field.secret),
      secretSet: secretsSet.includes(field.key),
    };
  });
}

/**
 * The config to send from what the form holds (`raw`: key → string | boolean | string[]).
 * Empty text is left out (the field falls back to its default); an empty secret is `null`,
 * which keeps the stored secret.
 */
export function readConfig(controls, raw) {
  const config = {};
  for (const control of controls) {
    const value = raw[control.key];
    if (control.input === 'checkbox') {
      config[control.key] = Boolean(value);
    } else if (control.input === 'multi') {
      if (Array.isArray(value) && value.length > 0) config[control.key] = value;
    } else if (control.secret) {
      config[control.key] = value ? String(value) : null;
    } else if (value !== undefined && value !== null && String(value).trim() !== '') {
      config[control.key] = String(value);
    }
  }
  return config;
}

function controlElement(control, id) {
  const common = { id, name: control.key, 'aria-describedby': `${id}-help ${id}-error` };
  switch (control.input) {
    case 'checkbox':
      return h('input', { ...common, type: 'checkbox', checked: control.value === true || control.value === 'true' });
    case 'textarea':
      return h('textarea', { ...common, rows: 4, placeholder: control.placeholder }, control.value ?? '');
    case 'select':
      return h('select', common, control.choices.map((choice) =>
        h('option', { value: choice, selected: choice === control.value }, choice)));
    case 'multi': {
      const chosen = Array.isArray(control.value) ? control.value : [];
      return h('fieldset', { ...common, class: 'multi' }, h('legend', { class: 'sr-only' }, control.label),
        control.choices.map((choice) => h('label', { class: 'check' },
          h('input', { type: 'checkbox', name: control.key, value: choice, checked: chosen.includes(choice) }), choice)));
    }
    default:
      return h('input', {
        ...common,
        type: control.input,
        value: control.value ?? '',
        placeholder: control.placeholder,
        autocomplete: control.secret ? 'new-password' : 'off',
      });
  }
}

/** The form rows for `controls`, ids prefixed with `prefix`. */
export function renderControls(controls, prefix) {
  if (controls.length === 0) return [h('p', { class: 'muted' }, 'This service has no settings.')];
  return controls.map((control) => {
    const id = `${prefix}-${control.key}`;
    return h('div', { class: 'field', dataset: { field: control.key } },
      h('label', { for: id }, control.label, control.secret ? h('span', { class: 'tag' }, 'secret') : null),
      controlElement(control, id),
      h('small', { id: `${id}-help`, class: 'help' }, control.help),
      h('small', { id: `${id}-error`, class: 'error', role: 'alert' }));
  });
}

/** What the rendered form holds, keyed by field. */
export function rawValues(form, controls) {
  const raw = {};
  for (const control of controls) {
    if (control.input === 'multi') {
      raw[control.key] = [...form.querySelectorAll(`input[name="${CSS.escape(control.key)}"]:checked`)].map((i) => i.value);
    } else {
      const element = form.querySelector(`[name="${CSS.escape(control.key)}"]`);
      raw[control.key] = control.input === 'checkbox' ? element.checked : element.value;
    }
  }
  return raw;
}

/** Shows `message` at field `field` of `form` (or clears every message when null). */
export function showFieldError(form, field, message) {
  for (const slot of form.querySelectorAll('.field')) {
    const error = slot.querySelector('.error');
    const matches = field !== null && slot.dataset.field === field;
    slot.classList.toggle('invalid', matches);
    if (error) error.textContent = matches ? message : '';
  }
  return field !== null && form.querySelector(`.field[data-field="${CSS.escape(field)}"]`) !== null;
}
