// rpcurl ui: the page. Plain JavaScript, no build step; it talks to the
// JSON API of `rpcurl ui` (src/ui/http.rs) on its own origin.
'use strict';

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'value') node.value = v;
    else if (k === 'checked') node.checked = v;
    else node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const state = {
  schema: null,
  method: null,      // the method's description from /api/method
  types: {},         // message types by name (form model)
  enums: {},
  schemas: {},       // JSON Schemas by type name (for Any)
  request: {},       // the request being edited, as proto3 JSON
  call: null,        // the call in progress: {id, kind}
  sent: [],          // messages sent on the current stream
  view: 'form',
};

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  };
  const res = await fetch(path, options);
  const text = await res.text();
  let value;
  try { value = JSON.parse(text); } catch (e) { value = { error: text }; }
  if (!res.ok) throw new Error(value.error || res.statusText);
  return value;
}

function toast(text) {
  const t = $('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 2500);
}

// ----- browsing -----

async function loadSchema(schema) {
  state.schema = schema || await api('/api/schema');
  $('server').textContent = state.schema.server || '(no server: schema only)';
  const chips = $('cli-headers');
  chips.replaceChildren(...state.schema.headers.map(([n, v]) => el('span', { class: 'chip', title: 'sent on every call' }, `${n}: ${v}`)));
  if (state.schema.timeout && !$('deadline').value) $('deadline').value = state.schema.timeout;
  if (!schema) $('protocol').value = state.schema.protocol;
  renderServices();
}

function renderServices() {
  const query = $('search').value.trim().toLowerCase();
  const box = $('services');
  box.replaceChildren();
  for (const service of state.schema.services) {
    const methods = service.methods.filter((m) => !query
      || m.full.toLowerCase().includes(query)
      || (m.doc || '').toLowerCase().includes(query));
    if (!methods.length) continue;
    box.append(el('div', { class: 'service' },
      el('div', { class: 'name', title: service.doc || '' }, service.name),
      methods.map((m) => el('button', {
        type: 'button',
        class: 'method' + (state.method && state.method.full === m.full ? ' active' : ''),
        'data-full': m.full,
        title: m.doc || '',
        onclick: () => selectMethod(m.full),
      }, el('span', {}, m.name), el('span', { class: 'kind ' + m.kind }, kindLabel(m.kind))))));
  }
  if (!box.children.length) box.append(el('p', { class: 'doc' }, 'No method matches.'));
}

function kindLabel(kind) {
  return { unary: 'unary', server: 'server stream', client: 'client stream', bidi: 'bidi stream' }[kind];
}

async function selectMethod(full, request) {
  const method = await api('/api/method?name=' + encodeURIComponent(full));
  if (state.call) await cancelCall();
  state.method = method;
  state.types = Object.assign({}, method.types);
  state.enums = Object.assign({}, method.enums);
  state.schemas = {};
  $('welcome').hidden = true;
  $('method').hidden = false;
  $('method-name').textContent = method.full;
  $('method-kind').textContent = kindLabel(method.kind);
  $('method-kind').className = 'kind ' + method.kind;
  $('method-doc').textContent = method.doc || '';
  renderTypes();
  setRequest(request !== undefined ? request : method.template);
  $('commands').hidden = true;
  clearResponse();
  setCallControls();
  renderServices();
}

function renderTypes() {
  const m = state.method;
  const body = $('types-body');
  body.replaceChildren();
  for (const [label, name] of [['Request', m.input], ['Response', m.output]]) {
    body.append(el('h2', {}, `${label}: ${name}`));
    const type = state.types[name];
    if (!type || type.wkt) { body.append(el('p', { class: 'doc' }, type && type.wkt ? 'a well-known type' : '')); continue; }
    if (type.doc) body.append(el('p', { class: 'doc' }, type.doc));
    body.append(el('table', { class: 'types-table' }, type.fields.map((f) => el('tr', {},
      el('td', {}, f.name),
      el('td', { class: 'mono' }, fieldTypeLabel(f)),
      el('td', { class: 'doc' }, f.doc || '')))));
  }
}

function fieldTypeLabel(f) {
  const base = f.type || f.kind;
  if (f.label === 'map') return `map<${f.key}, ${base}>`;
  if (f.label === 'repeated') return `repeated ${base}`;
  return (f.oneof ? `oneof ${f.oneof}: ` : '') + base;
}

// ----- the request: form and JSON kept in sync -----

function setRequest(value, from) {
  state.request = value === undefined ? {} : value;
  if (from !== 'json') $('json-editor').value = JSON.stringify(state.request, null, 2);
  if (from !== 'form') renderForm();
  validate();
}

function changed() {
  // The form edits state.request in place.
  $('json-editor').value = JSON.stringify(state.request, null, 2);
  validate();
}

function renderForm() {
  const form = $('form');
  form.replaceChildren(messageForm(state.method.input, state.request, '', (v) => { state.request = v; changed(); }));
}

const INT_KINDS = ['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32'];
const LONG_KINDS = ['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'];
const WRAPPERS = {
  'google.protobuf.DoubleValue': 'double', 'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64', 'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32', 'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool', 'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

// A message's fields; `set(value)` is called with the new object.
function messageForm(typeName, value, path, set) {
  const type = state.types[typeName];
  if (!type) return el('p', { class: 'doc' }, `(type ${typeName} not loaded)`);
  const obj = value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  const box = el('div', { class: 'message' });
  const shownOneofs = new Set();
  for (const f of type.fields) {
    if (f.oneof) {
      if (shownOneofs.has(f.oneof)) continue;
      shownOneofs.add(f.oneof);
      box.append(oneofField(type, f.oneof, obj, path, set));
      continue;
    }
    box.append(fieldRow(f, obj, path, set));
  }
  return box;
}

function fieldRow(f, obj, path, set) {
  const fpath = path ? `${path}.${f.name}` : f.name;
  const label = el('label', { title: f.doc || '' }, f.name, el('small', {}, fieldTypeLabel(f)));
  const update = (v) => {
    if (v === undefined) delete obj[f.name]; else obj[f.name] = v;
    set(obj);
  };
  let editor;
  if (f.label === 'repeated') editor = listEditor(f, obj[f.name], fpath, update);
  else if (f.label === 'map') editor = mapEditor(f, obj[f.name], fpath, update);
  else editor = valueEditor(f.kind, f.type, obj[f.name], fpath, update, true);
  return el('div', { class: 'field', 'data-field': fpath }, label,
    el('div', { class: 'value' }, editor, f.doc ? el('div', { class: 'help' }, f.doc) : null));
}

function oneofField(type, oneof, obj, path, set) {
  const members = type.fields.filter((f) => f.oneof === oneof);
  const current = members.find((f) => obj[f.name] !== undefined);
  const fpath = path ? `${path}.${oneof}` : oneof;
  const select = el('select', { 'data-oneof': fpath, onchange: () => {
    for (const m of members) delete obj[m.name];
    const chosen = members.find((m) => m.name === select.value);
    if (chosen) obj[chosen.name] = defaultFor(chosen.kind, chosen.type);
    set(obj);
    renderForm();
  } }, el('option', { value: '' }, '(none)'), members.map((m) => el('option', { value: m.name, selected: current && current.name === m.name }, m.name)));
  const row = el('div', { class: 'field' }, el('label', {}, oneof, el('small', {}, 'oneof')), el('div', { class: 'value' }, select));
  const box = el('div', {}, row);
  if (current) box.append(fieldRow(current, obj, path, set));
  return box;
}

function defaultFor(kind, typeName) {
  if (kind === 'message') {
    const t = state.types[typeName];
    if (t && t.wkt) return wktDefault(typeName);
    return {};
  }
  if (kind === 'enum') return (state.enums[typeName] || { values: [''] }).values[0];
  if (kind === 'bool') return false;
  if (kind === 'string' || kind === 'bytes') return '';
  if (LONG_KINDS.includes(kind)) return '0';
  return 0;
}

function wktDefault(name) {
  switch (name) {
    case 'google.protobuf.Timestamp': return new Date().toISOString();
    case 'google.protobuf.Duration': return '1s';
    case 'google.protobuf.FieldMask': return '';
    case 'google.protobuf.Struct': return {};
    case 'google.protobuf.ListValue': return [];
    case 'google.protobuf.Value': return null;
    case 'google.protobuf.Empty': return {};
    case 'google.protobuf.Any': return {};
    default: return WRAPPERS[name] ? defaultFor(WRAPPERS[name]) : {};
  }
}

// One value of a kind. `optional`: the field may be left out (empty text
// means "not set").
function valueEditor(kind, typeName, value, path, update, optional) {
  if (kind === 'message') {
    const type = state.types[typeName];
    if (type && type.wkt) return wktEditor(typeName, value, path, update);
    if (value === undefined && optional) {
      return el('button', { type: 'button', class: 'link', 'data-set': path, onclick: () => { update({}); renderForm(); } }, `+ set ${typeName.split('.').pop()}`);
    }
    const inner = value && typeof value === 'object' ? value : {};
    return el('fieldset', {}, el('legend', {}, typeName,
      optional ? el('button', { type: 'button', class: 'link', onclick: () => { update(undefined); renderForm(); } }, 'unset') : null),
      messageForm(typeName, inner, path, (v) => update(v)));
  }
  if (kind === 'enum') {
    const values = (state.enums[typeName] || { values: [] }).values;
    const select = el('select', { 'data-path': path, onchange: () => update(select.value === '' ? undefined : select.value) },
      optional ? el('option', { value: '' }, '(default)') : null,
      values.map((v) => el('option', { value: v, selected: v === value || v === valueNameOf(typeName, value) }, v)));
    return select;
  }
  if (kind === 'bool') {
    const box = el('input', { type: 'checkbox', 'data-path': path, checked: value === true, onchange: () => update(box.checked ? true : (optional ? undefined : false)) });
    return box;
  }
  if (kind === 'bytes') {
    const input = el('input', { type: 'text', 'data-path': path, placeholder: 'base64', value: value === undefined ? '' : value,
      oninput: () => update(input.value === '' && optional ? undefined : input.value) });
    const file = el('input', { type: 'file', title: 'read bytes from a file', onchange: () => {
      const f = file.files[0];
      if (!f) return;
      const reader = new FileReader();
      reader.onload = () => { const b64 = String(reader.result).replace(/^data:[^,]*,/, ''); input.value = b64; update(b64); };
      reader.readAsDataURL(f);
    } });
    return el('div', { class: 'item' }, input, file);
  }
  const numeric = kind !== 'string';
  const input = el('input', { type: 'text', 'data-path': path, value: value === undefined || value === null ? '' : String(value),
    placeholder: numeric ? kind : '', oninput: () => {
      const text = input.value;
      if (text === '' && optional) return update(undefined);
      update(numeric ? numberValue(kind, text) : text);
    } });
  return input;
}

function valueNameOf(typeName, number) {
  if (typeof number !== 'number') return number;
  const values = (state.enums[typeName] || { values: [] }).values;
  return values[number];
}

// Numbers as the JSON mapping prints them: 64-bit integers as strings,
// others as numbers when they are numbers (anything else is left as text
// for the validator to point at).
function numberValue(kind, text) {
  const t = text.trim();
  if (LONG_KINDS.includes(kind)) return t;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  return t;
}

function wktEditor(name, value, path, update) {
  const text = (placeholder, v) => {
    const input = el('input', { type: 'text', 'data-path': path, placeholder, value: v === undefined || v === null ? '' : v,
      oninput: () => update(input.value === '' ? undefined : input.value) });
    return input;
  };
  switch (name) {
    case 'google.protobuf.Timestamp': {
      const input = text('2024-01-01T00:00:00Z', value);
      return el('div', { class: 'item' }, input, el('button', { type: 'button', class: 'link', onclick: () => { input.value = new Date().toISOString(); update(input.value); } }, 'now'));
    }
    case 'google.protobuf.Duration': return text('1.5s', value);
    case 'google.protobuf.FieldMask': return text('path.one,pathTwo', value);
    case 'google.protobuf.Empty': return el('span', { class: 'doc' }, value === undefined ? '(not set) ' : '{} ',
      el('button', { type: 'button', class: 'link', onclick: () => { update(value === undefined ? {} : undefined); renderForm(); } }, value === undefined ? 'set' : 'unset'));
    case 'google.protobuf.Struct':
    case 'google.protobuf.Value':
    case 'google.protobuf.ListValue': {
      const area = el('textarea', { 'data-path': path, rows: 3, placeholder: name === 'google.protobuf.Struct' ? '{"any": "JSON object"}' : 'any JSON',
        value: value === undefined ? '' : JSON.stringify(value) });
      area.addEventListener('input', () => {
        if (area.value.trim() === '') { area.classList.remove('bad'); return update(undefined); }
        try { update(JSON.parse(area.value)); area.classList.remove('bad'); } catch (e) { area.classList.add('bad'); }
      });
      return area;
    }
    case 'google.protobuf.Any': return anyEditor(value, path, update);
    default:
      if (WRAPPERS[name]) return valueEditor(WRAPPERS[name], null, value, path, update, true);
      return text('', value);
  }
}

function anyEditor(value, path, update) {
  const obj = value && typeof value === 'object' ? value : {};
  const current = (obj['@type'] || '').replace(/^.*\//, '');
  const select = el('select', { 'data-any': path, onchange: async () => {
    const name = select.value;
    if (!name) { update(undefined); renderForm(); return; }
    await loadType(name);
    const body = state.types[name] && state.types[name].wkt ? { value: wktDefault(name) } : {};
    update(Object.assign({ '@type': 'type.googleapis.com/' + name }, body));
    renderForm();
  } }, el('option', { value: '' }, '(not set)'), state.schema.messages.map((m) => el('option', { value: m, selected: m === current }, m)));
  const box = el('div', {}, select);
  if (current && state.types[current]) {
    const type = state.types[current];
    if (type.wkt) {
      box.append(wktEditor(current, obj.value, path + '.value', (v) => { obj.value = v; update(obj); }));
    } else {
      const inner = Object.assign({}, obj);
      delete inner['@type'];
      box.append(el('fieldset', {}, el('legend', {}, current), messageForm(current, inner, path, (v) => update(Object.assign({ '@type': obj['@type'] }, v)))));
    }
  } else if (current) {
    loadType(current).then(() => renderForm()).catch(() => {});
  }
  return box;
}

async function loadType(name) {
  if (state.types[name] && state.schemas[name]) return;
  const t = await api('/api/type?name=' + encodeURIComponent(name));
  Object.assign(state.types, t.types);
  Object.assign(state.enums, t.enums);
  state.schemas[name] = t.schema;
}

function listEditor(f, value, path, update) {
  const list = Array.isArray(value) ? value : [];
  const box = el('div', { class: 'list', 'data-list': path });
  list.forEach((item, i) => {
    box.append(el('div', { class: 'item' },
      el('div', { class: 'value' }, valueEditor(f.kind, f.type, item, `${path}[${i}]`, (v) => { list[i] = v === undefined ? defaultFor(f.kind, f.type) : v; update(list); }, false)),
      el('button', { type: 'button', class: 'remove', title: 'remove', onclick: () => { list.splice(i, 1); update(list.length ? list : undefined); renderForm(); } }, '×')));
  });
  box.append(el('button', { type: 'button', class: 'link', 'data-add': path, onclick: () => { list.push(defaultFor(f.kind, f.type)); update(list); renderForm(); } }, '+ add'));
  return box;
}

function mapEditor(f, value, path, update) {
  const map = value && typeof value === 'object' ? value : {};
  const box = el('div', { class: 'map', 'data-map': path });
  for (const key of Object.keys(map)) {
    const keyInput = el('input', { type: 'text', value: key, size: 12, 'data-key': `${path}[${key}]` });
    keyInput.addEventListener('change', () => {
      const next = {};
      for (const [k, v] of Object.entries(map)) next[k === key ? keyInput.value : k] = v;
      update(next);
      renderForm();
    });
    box.append(el('div', { class: 'item' }, keyInput,
      el('div', { class: 'value' }, valueEditor(f.kind, f.type, map[key], `${path}[${key}]`, (v) => { map[key] = v === undefined ? defaultFor(f.kind, f.type) : v; update(map); }, false)),
      el('button', { type: 'button', class: 'remove', title: 'remove', onclick: () => { delete map[key]; update(Object.keys(map).length ? map : undefined); renderForm(); } }, '×')));
  }
  box.append(el('button', { type: 'button', class: 'link', 'data-add': path, onclick: () => {
    let key = f.key === 'string' ? 'key' : '0';
    for (let i = 1; key in map; i++) key = f.key === 'string' ? `key${i}` : String(i);
    map[key] = defaultFor(f.kind, f.type);
    update(map);
    renderForm();
  } }, '+ add'));
  return box;
}

// ----- validation against the JSON Schema -----

// The keywords rpcurl's JSON Schemas use (src/jsonschema.rs).
function check(schema, value, path, root, out) {
  if (schema === true || schema === undefined) return;
  if (schema === false) { out.push(`${path || '(root)'}: not allowed`); return; }
  if (schema.$ref) {
    const target = schema.$ref === '#' ? root : resolve(root, schema.$ref);
    if (target) check(target, value, path, root, out);
  }
  const here = path || '(root)';
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => isType(t, value))) { out.push(`${here}: expected ${types.join(' or ')}`); return; }
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${here}: not one of ${schema.enum.slice(0, 6).join(', ')}${schema.enum.length > 6 ? ', …' : ''}`);
  if (typeof value === 'string' && schema.pattern && !(new RegExp(schema.pattern, 'u')).test(value)) out.push(`${here}: "${value}" is not of the form ${schema.format || schema.pattern}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${here}: below ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${here}: above ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => check(schema.items, v, `${here}[${i}]`, root, out));
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const props = schema.properties || {};
    const patterns = schema.patternProperties || {};
    for (const [k, v] of Object.entries(value)) {
      const p = path ? `${path}.${k}` : k;
      let matched = false;
      if (k in props) { matched = true; check(props[k], v, p, root, out); }
      for (const [re, s] of Object.entries(patterns)) if (new RegExp(re, 'u').test(k)) { matched = true; check(s, v, p, root, out); }
      if (!matched && schema.additionalProperties !== undefined) {
        if (schema.additionalProperties === false) out.push(`${here}: unknown field "${k}"`);
        else check(schema.additionalProperties, v, p, root, out);
      }
      if (schema.propertyNames) check(schema.propertyNames, k, `${p} (key)`, root, out);
    }
    for (const r of schema.required || []) if (!(r in value)) out.push(`${here}: "${r}" is required`);
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties) out.push(`${here}: at most ${schema.maxProperties} fields`);
  }
  for (const s of schema.allOf || []) {
    const sub = [];
    check(s, value, path, root, sub);
    if (sub.length) out.push(s.$comment ? `${here}: ${s.$comment}` : sub[0]);
  }
  if (schema.anyOf && !schema.anyOf.some((s) => passes(s, value, path, root))) out.push(`${here}: matches none of the allowed forms`);
  if (schema.oneOf && schema.oneOf.filter((s) => passes(s, value, path, root)).length !== 1) out.push(`${here}: must match exactly one allowed form`);
  if (schema.not && passes(schema.not, value, path, root)) out.push(`${here}: ${schema.not.$comment || 'not allowed'}`);
}

function passes(schema, value, path, root) {
  const out = [];
  check(schema, value, path, root, out);
  return out.length === 0;
}

function resolve(root, ref) {
  const m = /^#\/\$defs\/(.*)$/.exec(ref);
  if (!m) return undefined;
  const name = decodeURIComponent(m[1]).replace(/~1/g, '/').replace(/~0/g, '~');
  return (root.$defs || {})[name];
}

function isType(t, v) {
  switch (t) {
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    case 'array': return Array.isArray(v);
    case 'string': return typeof v === 'string';
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'boolean': return typeof v === 'boolean';
    case 'null': return v === null;
    default: return true;
  }
}

function validate() {
  const problems = [];
  const editor = $('json-editor');
  if (state.view === 'json') {
    try { JSON.parse(editor.value); } catch (e) { problems.push(`JSON: ${e.message}`); }
  }
  if (!problems.length && state.method) check(state.method.schema, state.request, '', state.method.schema, problems);
  editor.classList.toggle('bad', problems.length > 0);
  $('problems').replaceChildren(...[...new Set(problems)].slice(0, 12).map((p) => el('li', {}, p)));
  return problems.length === 0;
}

// ----- metadata -----

function addHeaderRow(name, value, secret) {
  const nameInput = el('input', { type: 'text', placeholder: 'name', value: name || '', class: 'meta-name' });
  const valueInput = el('input', { type: 'text', placeholder: secret ? 'secret: type it again' : 'value', value: value || '', class: 'meta-value' });
  const row = el('div', { class: 'item' }, nameInput, valueInput,
    el('button', { type: 'button', class: 'remove', title: 'remove', onclick: () => row.remove() }, '×'));
  $('metadata').append(row);
}

function metadata() {
  return [...$('metadata').children].map((row) => [row.querySelector('.meta-name').value.trim(), row.querySelector('.meta-value').value])
    .filter(([n]) => n);
}

function callAsk(extra) {
  return Object.assign({
    method: state.method.full,
    protocol: $('protocol').value,
    timeout: $('deadline').value.trim() || null,
    metadata: metadata(),
  }, extra);
}

// ----- calls -----

function clearResponse() {
  const details = $('details');
  if (details) details.remove();
  $('status').textContent = '';
  $('status').className = 'status';
  $('timings').textContent = '';
  $('events').replaceChildren();
  $('headers').replaceChildren();
  $('trailers').replaceChildren();
  $('headers-box').open = false;
  $('trailers-box').open = false;
}

function setCallControls() {
  const streamsIn = state.method && (state.method.kind === 'client' || state.method.kind === 'bidi');
  const open = !!state.call;
  $('send').textContent = streamsIn ? 'Open stream' : 'Send';
  $('send').disabled = open;
  $('stream-send').hidden = !(streamsIn && open);
  $('close').hidden = !(streamsIn && open);
  $('cancel').hidden = !open;
}

function currentRequest() {
  if (state.view === 'json') {
    try { state.request = JSON.parse($('json-editor').value); } catch (e) { return undefined; }
  }
  return state.request;
}

async function send() {
  if (!state.method || state.call) return;
  const streamsIn = state.method.kind === 'client' || state.method.kind === 'bidi';
  let request;
  if (!streamsIn) {
    request = currentRequest();
    if (request === undefined) { toast('The JSON does not parse'); return; }
  }
  await run(callAsk(streamsIn ? {} : { request }));
}

// Runs a call and shows its events as they arrive; resolves at its end.
async function run(ask, afterStart) {
  clearResponse();
  state.sent = [];
  const t = { first: null, total: null, bytes: 0, count: 0 };
  const status = $('status');
  status.textContent = 'running…';
  status.className = 'status running';
  let res;
  try {
    res = await fetch('/api/call', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(ask) });
  } catch (e) {
    showStatus({ code: 'error', message: String(e) });
    return;
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try { message = JSON.parse(text).error; } catch (e) { /* plain text */ }
    showStatus({ code: 'error', message });
    return;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let starting = afterStart;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      const event = JSON.parse(line);
      onEvent(event, t);
      if (event.type === 'start' && starting) { const f = starting; starting = null; f(); }
    }
  }
  state.call = null;
  setCallControls();
  loadHistory();
}

function onEvent(event, t) {
  switch (event.type) {
    case 'start':
      state.call = { id: event.id, kind: event.kind };
      setCallControls();
      break;
    case 'headers':
      $('headers').replaceChildren(...event.headers.map(([n, v]) => el('tr', {}, el('td', {}, n), el('td', {}, v))));
      $('headers-box').open = true;
      break;
    case 'trailers':
      $('trailers').replaceChildren(...event.trailers.map(([n, v]) => el('tr', {}, el('td', {}, n), el('td', {}, v))));
      $('trailers-box').open = true;
      break;
    case 'message':
      if (t.first === null) t.first = event.ms;
      t.bytes += event.size;
      t.count += 1;
      $('events').append(el('div', { class: 'event received', 'data-index': event.index },
        el('div', { class: 'meta' }, `← message ${event.index} · ${event.size} bytes · at ${event.ms.toFixed(1)} ms`),
        jsonView(event.message)));
      showTimings(t, null);
      break;
    case 'sent':
      $('events').append(el('div', { class: 'event sent' },
        el('div', { class: 'meta' }, `→ sent message ${event.index} · at ${event.ms.toFixed(1)} ms`),
        jsonView(state.sent[event.index - 1])));
      break;
    case 'closed':
      $('events').append(el('div', { class: 'event sent' }, el('div', { class: 'meta' }, `→ half-closed at ${event.ms.toFixed(1)} ms`)));
      break;
    case 'end':
      showTimings(t, event.ms);
      showStatus(event.status);
      break;
    default:
      break;
  }
}

function showTimings(t, total) {
  const parts = [`${t.count} message${t.count === 1 ? '' : 's'}`, `${t.bytes} bytes`];
  if (t.first !== null) parts.push(`first message at ${t.first.toFixed(1)} ms`);
  if (total !== null) parts.push(`total ${total.toFixed(1)} ms`);
  $('timings').textContent = parts.join(' · ');
}

function showStatus(s) {
  const status = $('status');
  const ok = s.code === 'ok';
  status.className = 'status ' + (ok ? 'ok' : 'error');
  status.replaceChildren(el('span', { id: 'status-code' }, s.code.toUpperCase()), s.message ? `: ${s.message}` : '');
  if (s.details && s.details.length) {
    status.after(el('div', { class: 'details', id: 'details' }, el('strong', {}, 'Error details'), s.details.map((d) => jsonView(d))));
  }
}

async function streamSend() {
  if (!state.call) return;
  const message = currentRequest();
  if (message === undefined) { toast('The JSON does not parse'); return; }
  const copy = JSON.parse(JSON.stringify(message));
  state.sent.push(copy);
  try {
    await api(`/api/call/${state.call.id}/send`, { message: copy });
  } catch (e) {
    state.sent.pop();
    toast(e.message);
  }
}

async function closeCall() { if (state.call) await api(`/api/call/${state.call.id}/close`, {}).catch((e) => toast(e.message)); }
async function cancelCall() { if (state.call) await api(`/api/call/${state.call.id}/cancel`, {}).catch((e) => toast(e.message)); }

// Collapsible JSON.
function jsonView(value) {
  return el('div', { class: 'json mono' }, jsonNode(value, null, 0));
}

function jsonNode(value, key, depth) {
  const label = key === null ? [] : [el('span', { class: 'k' }, JSON.stringify(key)), ': '];
  if (value && typeof value === 'object') {
    const entries = Array.isArray(value) ? value.map((v, i) => [null, v, i]) : Object.entries(value).map(([k, v]) => [k, v]);
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (!entries.length) return el('div', {}, ...label, open + close);
    const box = el('details', { open: depth < 6 });
    box.append(el('summary', {}, ...label, `${open} ${entries.length} ${Array.isArray(value) ? 'item' : 'field'}${entries.length === 1 ? '' : 's'}`));
    for (const [k, v] of entries) box.append(jsonNode(v, k, depth + 1));
    box.append(el('div', {}, close));
    return box;
  }
  const cls = typeof value === 'string' ? 's' : typeof value === 'number' ? 'n' : 'b';
  return el('div', {}, ...label, el('span', { class: cls }, JSON.stringify(value)));
}

// ----- copy as command -----

async function copyCommand() {
  if (!state.method) return;
  let body;
  const streamsIn = state.method.kind === 'client' || state.method.kind === 'bidi';
  if (streamsIn && state.sent.length) body = state.sent.map((m) => JSON.stringify(m)).join('\n');
  else {
    const request = currentRequest();
    if (request === undefined) { toast('The JSON does not parse'); return; }
    body = JSON.stringify(request);
  }
  let commands;
  try { commands = await api('/api/command', callAsk({ body })); } catch (e) { toast(e.message); return; }
  const box = $('commands');
  const names = { rpcurl: 'rpcurl', buf: 'buf curl', grpcurl: 'grpcurl (gRPC only)', curl: 'curl (Connect)' };
  box.replaceChildren(...Object.entries(names).filter(([k]) => commands[k]).map(([k, label]) => {
    const pre = el('pre', { 'data-tool': k }, commands[k]);
    return el('div', { class: 'command' }, el('strong', {}, label), ' ',
      el('button', { type: 'button', class: 'link', onclick: () => copyText(pre.textContent) }, 'copy'), pre);
  }));
  box.hidden = false;
  copyText(commands.rpcurl);
}

function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => toast('Copied'), () => toast('Select the text to copy it'));
  } else {
    toast('Select the text to copy it');
  }
}

// ----- history -----

async function loadHistory() {
  let entries = [];
  try { entries = await api('/api/history'); } catch (e) { return; }
  const list = $('history');
  list.replaceChildren(...entries.map((h) => el('li', {},
    el('button', { type: 'button', class: 'entry', title: 'Load this request', onclick: () => replay(h) },
      el('div', {}, h.method.split('/').pop(), ' ', el('span', { class: h.status === 'ok' ? 'code-ok' : 'code-bad' }, h.status)),
      el('div', { class: 'when' }, `${new Date(h.time).toLocaleString()} · ${h.protocol} · ${h.messages} msg · ${Math.round(h.ms)} ms`)))));
  if (!entries.length) list.append(el('li', { class: 'doc' }, state.schema && state.schema.history ? 'No calls yet.' : 'History is off (no data directory).'));
}

async function replay(h) {
  const streams = Array.isArray(h.requests);
  await selectMethod(h.method, streams ? (h.requests[0] || {}) : (h.request || {}));
  $('protocol').value = h.protocol || 'grpc';
  $('deadline').value = h.timeout || '';
  $('metadata').replaceChildren();
  for (const [n, v] of h.metadata || []) addHeaderRow(n, v === null ? '' : v, v === null);
  if (streams && h.requests.length) {
    const again = el('button', { type: 'button', id: 'replay-stream', onclick: () => replayStream(h.requests) }, `Replay the ${h.requests.length} messages`);
    $('commands').replaceChildren(again);
    $('commands').hidden = false;
  }
  toast('Request loaded from history');
}

async function replayStream(messages) {
  await run(callAsk({}), async () => {
    for (const m of messages) {
      state.sent.push(m);
      await api(`/api/call/${state.call.id}/send`, { message: m });
    }
    await closeCall();
  });
}

// ----- wiring -----

function showView(view) {
  state.view = view;
  $('tab-form').classList.toggle('active', view === 'form');
  $('tab-json').classList.toggle('active', view === 'json');
  $('form').hidden = view !== 'form';
  $('json-pane').hidden = view !== 'json';
  if (view === 'form') {
    try { state.request = JSON.parse($('json-editor').value); } catch (e) { /* keep the form's value */ }
    renderForm();
  }
  validate();
}

function init() {
  $('search').addEventListener('input', renderServices);
  $('tab-form').addEventListener('click', () => showView('form'));
  $('tab-json').addEventListener('click', () => showView('json'));
  $('reset').addEventListener('click', () => state.method && setRequest(JSON.parse(JSON.stringify(state.method.template))));
  $('clear').addEventListener('click', () => state.method && setRequest({}));
  $('json-editor').addEventListener('input', () => {
    try {
      state.request = JSON.parse($('json-editor').value);
      renderForm();
    } catch (e) { /* reported by validate */ }
    validate();
  });
  $('add-header').addEventListener('click', () => addHeaderRow('', ''));
  $('send').addEventListener('click', send);
  $('stream-send').addEventListener('click', streamSend);
  $('close').addEventListener('click', closeCall);
  $('cancel').addEventListener('click', cancelCall);
  $('copy-command').addEventListener('click', copyCommand);
  $('clear-history').addEventListener('click', async () => { await api('/api/history/clear', {}); loadHistory(); });
  $('reload').addEventListener('click', async () => {
    try { await loadSchema(await api('/api/reload', {})); toast('Schema reloaded'); } catch (e) { toast(e.message); }
  });
  loadSchema().then(() => {
    loadHistory();
    document.body.dataset.readyAt = String(Math.round(performance.now()));
    document.body.dataset.ready = 'true';
  }).catch((e) => { $('services').textContent = e.message; });
}

init();
