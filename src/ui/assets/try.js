// frametap try-it page: a minimal Genesys Guest API client that talks through the proxy.
const $ = (id) => document.getElementById(id);
let ws = null;
const sessionToken = crypto.randomUUID();

function log(cls, text) {
  const line = document.createElement('div');
  line.className = cls;
  line.textContent = `${new Date().toISOString().slice(11, 23)} ${text}`;
  $('log').append(line);
  $('log').scrollTop = $('log').scrollHeight;
}

function setConnected(on, label) {
  for (const id of ['configure', 'echo', 'send', 'disconnect', 'broken']) $(id).disabled = !on;
  $('connect').disabled = on;
  $('conn-state').textContent = label;
}

function send(obj) {
  if (!ws || ws.readyState !== WebSocket.OPEN) { log('sys', 'not connected'); return; }
  const text = JSON.stringify(obj);
  ws.send(text);
  log('out', `→ ${text}`);
}

// The endpoint with the deploymentId field's value: in place of the one its query has (left as written when it
// reads the same, so a replay is asked for exactly the recorded URL), else appended (unless the field is empty).
function withDeployment(base, deployment) {
  const named = base.match(/([?&])deploymentId=([^&#]*)/);
  if (named) {
    let current = null;
    try { current = decodeURIComponent(named[2]); } catch { /* not percent-encoding: replaced */ }
    if (current === deployment) return base;
    return base.replace(named[0], `${named[1]}deploymentId=${encodeURIComponent(deployment)}`);
  }
  if (!deployment) return base;
  return `${base}${base.includes('?') ? '&' : '?'}deploymentId=${encodeURIComponent(deployment)}`;
}

// The endpoint the page starts with: a URL with a path is used as it is (`replay serve`: the recorded path and
// query); the proxy's bare address gets the Guest API's `/v1`.
function startingEndpoint(url) {
  let path = '/';
  try { const parsed = new URL(url); path = parsed.pathname + parsed.search; } catch { /* used as it is */ }
  return path === '/' ? `${url.replace(/\/$/, '')}/v1` : url;
}

function connect() {
  const base = $('endpoint').value.trim();
  const deployment = $('deployment').value.trim();
  const url = withDeployment(base, deployment);
  log('sys', `connecting to ${url}`);
  try { ws = new WebSocket(url); } catch (e) { log('sys', `cannot connect: ${e.message}`); return; }
  setConnected(false, 'connecting…');
  $('connect').disabled = true;
  ws.onopen = () => { setConnected(true, 'connected'); log('sys', 'connected'); };
  ws.onmessage = (ev) => log('in', `← ${typeof ev.data === 'string' ? ev.data : '(binary)'}`);
  ws.onerror = () => log('sys', 'WebSocket error (see the UI for what happened)');
  ws.onclose = (ev) => {
    setConnected(false, `closed ${ev.code}${ev.reason ? ' ' + ev.reason : ''}`);
    log('sys', `closed: code ${ev.code}${ev.reason ? `, reason "${ev.reason}"` : ', no reason'}${ev.wasClean ? '' : ' (not clean)'}`);
    ws = null;
  };
}

async function setup() {
  const info = await fetch('/api/info').then(r => r.json()).catch(() => ({}));
  // The one `frametap proxy`'s banner prints when the built-in simulator is the upstream; else the user's to type.
  $('deployment').value = info.deployment_id ?? '';
  if (info.proxy_ws_url) $('endpoint').value = startingEndpoint(info.proxy_ws_url);
  else { $('no-proxy').hidden = false; $('connect').disabled = true; }
  $('connect').addEventListener('click', connect);
  $('configure').addEventListener('click', () => send({ action: 'configureSession', deploymentId: $('deployment').value.trim(), token: sessionToken, tracingId: crypto.randomUUID() }));
  $('echo').addEventListener('click', () => send({ action: 'echo', token: sessionToken, message: { type: 'Text', text: 'ping' }, tracingId: crypto.randomUUID() }));
  $('send').addEventListener('click', () => send({ action: 'onMessage', token: sessionToken, message: { type: 'Text', text: $('text').value }, tracingId: crypto.randomUUID() }));
  $('broken').addEventListener('click', () => send({ type: 'message', content: 'Hello from custom UI', timestamp: new Date().toISOString() }));
  $('disconnect').addEventListener('click', () => ws && ws.close(1000, 'Guest client disconnect'));
  setConnected(false, 'not connected');
  if (!info.proxy_ws_url) $('connect').disabled = true;
  document.body.dataset.ready = 'yes';
}

setup();
