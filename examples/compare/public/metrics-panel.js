// The compare page's live counters: polls /metrics.json (sockpass's OpenTelemetry
// instruments, read by the demo server's SDK) and draws one small table at the
// end of the page. Kept apart from compare.js: it only adds its own section.
// Each column is one of the server's outcomes as it counts them: `success` is
// admitted, `deferred` (a socket let in only to wait for the `authenticate`
// event) is shown on its own, every other outcome is a refusal code.
const panel = document.createElement('section');
panel.className = 'card';
panel.id = 'metrics-panel';
panel.innerHTML = '<h2>Live counters <small>(OpenTelemetry, meter <code>sockpass</code>, handshakes by outcome)</small></h2>' +
  '<div class="table-scroll"><table><thead><tr><th>strategy</th><th>admitted</th><th>deferred</th><th>refused</th><th>mean handshake</th></tr></thead><tbody></tbody></table></div>' +
  '<p class="hint"><strong>deferred</strong>: let in without a credential, to wait for the <code>authenticate</code> event ' +
  '(jwt-authenticate-event); the socket is not authenticated yet, so it is neither admitted nor refused here.</p>';
document.body.insertBefore(panel, document.querySelector('.notes'));
const body = panel.querySelector('tbody');

function cell(col, text) {
  const td = document.createElement('td');
  td.dataset.col = col;
  td.textContent = text;
  return td;
}

async function refresh() {
  try {
    const rows = await (await fetch('/metrics.json')).json();
    body.replaceChildren(...rows.map((r) => {
      const { success = 0, deferred = 0, ...refusals } = r.outcomes;
      const refused = Object.values(refusals).reduce((sum, n) => sum + n, 0);
      const byCode = Object.entries(refusals).map(([code, n]) => `${code} ${n}`).join(', ');
      const tr = document.createElement('tr');
      tr.dataset.strategy = r.strategy;
      tr.append(
        cell('strategy', r.strategy),
        cell('admitted', String(success)),
        cell('deferred', String(deferred)),
        cell('refused', byCode === '' ? '0' : `${refused}: ${byCode}`),
        cell('mean', r.meanMs === null ? '—' : `${r.meanMs.toFixed(2)} ms`),
      );
      return tr;
    }));
  } catch {
    // the server went away: keep the last numbers
  }
}
refresh();
setInterval(refresh, 2000);
