// The dalm serve page: ask (streamed over SSE from POST /v1/ask) and the training-runs view.

const $ = (id) => document.getElementById(id);

function showView() {
  const runs = location.hash === '#runs';
  $('view-ask').hidden = runs;
  $('view-runs').hidden = !runs;
  if (runs) loadRuns();
}
window.addEventListener('hashchange', showView);

fetch('/v1/models')
  .then((r) => r.json())
  .then((m) => {
    $('model').textContent = m.data[0].id;
  });

/** Parses a text/event-stream body, calling onEvent(name, data) per event. */
async function readSse(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      onEvent(name, JSON.parse(data.join('\n')));
    }
  }
}

function showCitations(citations) {
  const list = $('citations');
  list.textContent = '';
  $('citations-heading').hidden = citations.length === 0;
  for (const c of citations) {
    const li = document.createElement('li');
    li.className = 'citation';
    const a = document.createElement('a');
    a.href = c.url;
    a.textContent = `[${c.id}] ${c.title || c.source || ''}`;
    a.addEventListener('click', async (e) => {
      e.preventDefault();
      const p = await (await fetch(c.url)).json();
      $('passage').hidden = false;
      $('passage').textContent = `${p.id} (${p.source}, characters ${p.start}-${p.end})\n\n${p.text}`;
    });
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = ` score ${c.score.toFixed(4)}`;
    const snippet = document.createElement('span');
    snippet.className = 'snippet';
    snippet.textContent = c.text.length > 200 ? c.text.slice(0, 200) + '…' : c.text;
    li.append(a, score, snippet);
    list.append(li);
  }
}

$('ask-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const question = $('question').value;
  $('answer').textContent = '';
  $('answer').dataset.done = 'false';
  $('passage').hidden = true;
  showCitations([]);
  $('status').textContent = 'retrieving and generating…';
  $('ask-button').disabled = true;
  try {
    const res = await fetch('/v1/ask', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        question,
        stream: true,
        k: Number($('k').value),
        max_tokens: Number($('max-tokens').value),
      }),
    });
    if (!res.ok) {
      $('status').textContent = (await res.json()).error.message;
      return;
    }
    await readSse(res, (name, data) => {
      if (name === 'token') $('answer').textContent += data.text;
      else if (name === 'citations') showCitations(data);
      else if (name === 'done') {
        $('answer').dataset.done = 'true';
        $('status').textContent = `done (${data.finishReason})`;
      } else if (name === 'error') $('status').textContent = data.message;
    });
  } finally {
    $('ask-button').disabled = false;
  }
});

async function loadRuns() {
  const { runs, dir } = await (await fetch('/v1/runs')).json();
  const list = $('runs');
  list.textContent = '';
  if (runs.length === 0)
    list.textContent = dir ? `no training runs under ${dir}` : 'start the server with --runs DIR to list training runs';
  for (const r of runs) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = r.report;
    a.textContent = r.name;
    a.addEventListener('click', (e) => {
      e.preventDefault();
      $('report').hidden = false;
      $('report').src = r.report;
    });
    li.append(a);
    list.append(li);
  }
}

showView();
