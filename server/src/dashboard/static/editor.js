// The mapping editor: picks a source field, fills value maps, validates the JSON.
const fields = JSON.parse(document.getElementById('fields').textContent);
const json = document.getElementById('json');
const pick = document.getElementById('field');
const models = [...new Set(fields.map(f => f.model))];
for (const model of models) {
  const group = document.createElement('optgroup'); group.label = model;
  for (const f of fields.filter(f => f.model === model)) {
    const o = document.createElement('option'); o.value = f.key; o.textContent = f.key + ' (' + f.type + ')'; group.appendChild(o);
  }
  pick.appendChild(group);
}
function showValueMap() {
  const f = fields.find(f => f.key === pick.value); const box = document.getElementById('valuemap'); box.innerHTML = '';
  if (!f || f.options.length === 0) { box.textContent = 'no value map: not an enum field'; return; }
  for (const option of f.options) {
    const label = document.createElement('label'); label.textContent = option + ' → ';
    const input = document.createElement('input'); input.dataset.option = option; input.placeholder = option;
    label.appendChild(input); box.appendChild(label); box.appendChild(document.createElement('br'));
  }
}
pick.onchange = showValueMap; showValueMap();
document.getElementById('add').onclick = () => {
  let list; try { list = JSON.parse(json.value); } catch (e) { alert('Fix the JSON first: ' + e); return; }
  const index = Number(document.getElementById('mapping').value) || 0;
  if (!list[index]) { alert('No mapping #' + index); return; }
  const entry = {source_field: pick.value, external_field: document.getElementById('external').value, mode: document.getElementById('mode').value};
  const map = {}; for (const input of document.querySelectorAll('#valuemap input')) { if (input.value) map[input.dataset.option] = input.value; }
  if (Object.keys(map).length) entry.value_map = map;
  (list[index].property_mappings = list[index].property_mappings || []).push(entry);
  json.value = JSON.stringify(list, null, 2);
};
document.getElementById('validate').onclick = async () => {
  const r = await fetch('/dashboard/mappings/validate', {method: 'POST', headers: {'content-type': 'application/json', 'x-csrf-token': document.getElementById('csrf').value}, body: json.value});
  const v = await r.json(); const out = document.getElementById('result'); out.innerHTML = '';
  if (v.valid) { out.className = 'ok'; out.textContent = 'Valid: ' + v.mappings + ' mapping(s).'; }
  else { out.className = 'bad'; for (const p of v.problems) { const li = document.createElement('li'); li.textContent = p; out.appendChild(li); } }
};
document.getElementById('save').onclick = async () => {
  const provider = document.getElementById('provider').value;
  const note = document.getElementById('note').value;
  const r = await fetch('/dashboard/providers/' + encodeURIComponent(provider) + '/versions', {method: 'POST',
    headers: {'content-type': 'application/json', 'x-csrf-token': document.getElementById('csrf').value, 'x-note': encodeURIComponent(note)}, body: json.value});
  const v = await r.json(); const out = document.getElementById('result'); out.innerHTML = '';
  if (v.saved) { out.className = 'ok'; out.textContent = 'Saved version ' + v.saved + '; workers use it within a second.'; }
  else { out.className = 'bad'; for (const p of v.problems) { const li = document.createElement('li'); li.textContent = p; out.appendChild(li); } }
};
document.getElementById('preview').onclick = async () => {
  const provider = document.getElementById('provider').value;
  const query = 'type=' + encodeURIComponent(document.getElementById('preview-type').value) + '&id=' + encodeURIComponent(document.getElementById('preview-id').value);
  const r = await fetch('/dashboard/providers/' + encodeURIComponent(provider) + '/preview?' + query, {method: 'POST',
    headers: {'content-type': 'application/json', 'x-csrf-token': document.getElementById('csrf').value}, body: json.value});
  const v = await r.json(); const out = document.getElementById('result'); out.innerHTML = '';
  if (v.problems) { out.className = 'bad'; for (const p of v.problems) { const li = document.createElement('li'); li.textContent = p; out.appendChild(li); } return; }
  out.className = '';
  if (v.preview.length === 0) { out.textContent = 'No mapping reads this object type.'; }
  for (const entry of v.preview) {
    const li = document.createElement('li');
    li.textContent = 'mapping ' + entry.mapping + (entry.child ? ' (' + entry.child + ')' : '') + ', id ' + JSON.stringify(entry.id) + ': ' +
      entry.properties.map(p => p.field + ' = ' + JSON.stringify(p.value) + (p.mode !== 'overwrite' ? ' (' + p.mode + ')' : '')).join(', ');
    out.appendChild(li);
  }
};
