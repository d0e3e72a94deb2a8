// The compare page's live counters: polls /metrics.json (sockpass's OpenTelemetry
// instruments, read by the demo server's SDK) and draws one small table at the
// end of the page. Kept apart from compare.js: it only adds its own section.
const panel = document.createElement('section');
panel.className = 'card';
panel.id = 'metrics-panel';
panel.innerHTML = '<h2>Live counters <small>(OpenTelemetry, meter <code>sockpass</code>)</small></h2>' +
  '<table><thead><tr><th>strategy</th><th>admitted</th><th>refused</th><th>mean handshake</th></tr></thead><tbody></tbody></table>';
document.body.insertBefore(panel, document.querySelector('.notes'));
const body = panel.querySelector('tbody');

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

async function refresh() {
  try {
    const rows = await (await fetch('/metrics.json')).json();
    body.replaceChildren(...rows.map((r) => {
      const admitted = (r.outcomes.success ?? 0) + (r.outcomes.deferred ?? 0);
      const refused = Object.entries(r.outcomes)
        .filter(([outcome]) => outcome !== 'success' && outcome !== 'deferred')
        .map(([outcome, n]) => `${outcome} ${n}`).join(', ') || '0';
      const tr = document.createElement('tr');
      tr.dataset.strategy = r.strategy;
      tr.append(cell(r.strategy), cell(String(admitted)), cell(refused), cell(r.meanMs === null ? '—' : `${r.meanMs.toFixed(2)} ms`));
      return tr;
    }));
  } catch {
    // the server went away: keep the last numbers
  }
}
refresh();
setInterval(refresh, 2000);
