// The ensweep dashboard: a hash-routed single page over the JSON API of `ensweep serve`
// (docs/dashboard.md), or over window.ENSWEEP_DATA in a report written by `ensweep report`.
//   #/                      studies
//   #/study/<s>             leaderboard, optimization history, parallel coordinates, importance
//   #/study/<s>/curves      learning curves of selected trials, with the pruner's rungs
//   #/study/<s>/trial/<n>   one trial
//   #/study/<s>/ensembles   ensembles
// In server mode it polls /api/studies every second and redraws the shown view when its study's
// revision changes. Tests read window.ensweepCharts[name] (Chart.js charts) and the data-*
// attributes of the DOM; document.body.dataset.rendered counts finished renders.
(function () {
  'use strict';

  const DATA = window.ENSWEEP_DATA;
  const EMBEDDED = typeof DATA === 'object' && DATA !== null;
  const POLL_MS = 1000;
  const IMPORTANCE_RETRY_MS = 1000;
  const PAGE_SIZE = 50;
  const PARALLEL_MAX = 1000;
  const STATES = ['COMPLETE', 'PRUNED', 'FAILED', 'RUNNING', 'QUEUED', 'STALE'];
  const COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777',
                  '#65a30d', '#ea580c', '#4f46e5', '#0d9488', '#9333ea'];

  const charts = {};
  window.ensweepCharts = charts;
  const app = document.getElementById('app');
  const ui = {
    studies: [],          // the last /api/studies answer
    route: null,
    shownRevision: null,  // revision of the study whose view is on screen
    rendering: false,
    pending: false,
    lb: {},               // leaderboard state per study: sort, order, offset, states, param filter
    selected: {},         // study -> Set of trial numbers picked for the curves view
  };

  // ---------------------------------------------------------------- data access

  class NotInReport extends Error {}

  function studyPath(s) { return '/api/studies/' + encodeURIComponent(s); }

  function embedded(path) {
    if (Object.prototype.hasOwnProperty.call(DATA, path)) return DATA[path];
    const decoded = decodeURIComponent(path);  // a writer may have keyed by the raw name
    if (Object.prototype.hasOwnProperty.call(DATA, decoded)) return DATA[decoded];
    throw new NotInReport(path);
  }

  async function api(path) {
    if (EMBEDDED) return embedded(path);
    const response = await fetch(path, {cache: 'no-store'});
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      throw new Error((body && body.error) || (response.status + ' ' + response.statusText));
    }
    return body;
  }

  // A report's trials?limit=all: the API's answer ({trials: [...]}) or the report's compact form
  // ({columns: {field: [...], params: {name: [...]}, metrics: {name: [...]}}}, docs/dashboard.md),
  // read once into the API's trial objects.
  const reportRows = new Map();
  function reportTrials(s) {
    if (reportRows.has(s)) return reportRows.get(s);
    const answer = embedded(studyPath(s) + '/trials?limit=all');
    let rows = answer.trials;
    if (!rows && answer.columns) {
      const c = answer.columns;
      const fields = Object.keys(c).filter((f) => f !== 'params' && f !== 'metrics');
      rows = c.number.map((_, i) => {
        const t = {params: {}, metrics: {}};
        for (const f of fields) t[f] = c[f][i];
        for (const group of ['params', 'metrics']) {
          for (const name of Object.keys(c[group] || {})) {
            const v = c[group][name][i];
            if (v !== null && v !== undefined) t[group][name] = v;
          }
        }
        return t;
      });
    }
    reportRows.set(s, rows || []);
    return reportRows.get(s);
  }

  // The leaderboard's trials: the API pages, sorts and filters in server mode; here in a report.
  async function queryTrials(s, q) {
    if (!EMBEDDED) {
      const params = new URLSearchParams();
      if (q.states && q.states.length) params.set('state', q.states.join(','));
      if (q.sort) params.set('sort', q.sort);
      if (q.order) params.set('order', q.order);
      params.set('offset', String(q.offset || 0));
      params.set('limit', String(q.limit || PAGE_SIZE));
      if (q.param && q.param.name && q.param.value !== '') {
        params.set('param.' + q.param.name, q.param.value);
      }
      return api(studyPath(s) + '/trials?' + params.toString());
    }
    const all = reportTrials(s);
    const study = embedded(studyPath(s));
    let rows = all.filter((t) => !q.states || !q.states.length || q.states.includes(t.state));
    if (q.param && q.param.name && q.param.value !== '') {
      rows = rows.filter((t) => String(t.params[q.param.name]) === String(q.param.value));
    }
    rows = sortTrials(rows, q.sort || 'value', q.order, study.direction);
    const offset = q.offset || 0;
    const limit = q.limit === 'all' ? rows.length : (q.limit || PAGE_SIZE);
    return {total: rows.length, offset, limit, trials: rows.slice(offset, offset + limit)};
  }

  function sortKey(t, sort) {
    if (sort === 'value') return t.value;
    if (sort === 'number') return t.number;
    if (sort === 'duration') return t.duration_seconds;
    if (sort.startsWith('param.')) return t.params[sort.slice(6)];
    return t.metrics[sort];
  }

  // Like the API: by value best first by default; trials without the key always last.
  function sortTrials(rows, sort, order, direction) {
    const defaultOrder = sort === 'value' ? (direction === 'minimize' ? 'asc' : 'desc') : 'asc';
    const sign = (order || defaultOrder) === 'desc' ? -1 : 1;
    return rows.slice().sort((a, b) => {
      const x = sortKey(a, sort), y = sortKey(b, sort);
      const xm = x === null || x === undefined, ym = y === null || y === undefined;
      if (xm || ym) return xm === ym ? a.number - b.number : (xm ? 1 : -1);
      if (x < y) return -sign;
      if (x > y) return sign;
      return a.number - b.number;
    });
  }

  // ---------------------------------------------------------------- formatting

  function fmt(v) {
    if (v === null || v === undefined) return '–';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v !== 'number') return String(v);
    if (!isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e9) return v.toLocaleString('en-US');
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e7)) return v.toExponential(3).replace(/\.?0+e/, 'e');
    if (a >= 1000) return v.toLocaleString('en-US', {maximumFractionDigits: 1});
    return String(Number(v.toPrecision(4)));
  }

  function fmtDuration(s) {
    if (s === null || s === undefined || !isFinite(s)) return '–';
    if (s < 10) return s.toFixed(1) + ' s';
    if (s < 60) return Math.round(s) + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ' + String(Math.round(s % 60)).padStart(2, '0') + 's';
    const h = Math.floor(m / 60);
    if (h < 48) return h + 'h ' + String(m % 60).padStart(2, '0') + 'm';
    return Math.floor(h / 24) + 'd ' + (h % 24) + 'h';
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return '–';
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtTime(t) {
    if (!t) return '–';
    return new Date(t * 1000).toLocaleString('en-GB', {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
      second: '2-digit'});
  }

  function fmtAgo(t) {
    if (!t) return '–';
    const s = Date.now() / 1000 - t;
    if (s < 5) return 'just now';
    if (s > 2 * 86400) return fmtTime(t);
    return fmtDuration(s) + ' ago';
  }

  // ---------------------------------------------------------------- DOM helpers

  // h('div.card#id', {attrs}, children...): an element; strings become text nodes.
  function h(tag, attrs, ...children) {
    const [name, ...rest] = tag.split(/(?=[.#])/);
    const el = document.createElement(name || 'div');
    for (const part of rest) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'class') el.classList.add(...String(v).split(' ').filter((c) => c));
      else el.setAttribute(k, v === true ? '' : v);
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function badge(state) {
    return h('span.badge.state-' + String(state).toLowerCase(), {}, state);
  }

  function card(title, body, opts) {
    const o = opts || {};
    return h('section.card' + (o.cls ? '.' + o.cls : ''), {id: o.id},
      h('div.card-head', {}, h('h2', {}, title), o.tools || null), body);
  }

  function link(href, text, attrs) { return h('a', Object.assign({href}, attrs || {}), text); }
  function trialHref(s, n) { return '#/study/' + encodeURIComponent(s) + '/trial/' + n; }
  function studyHref(s, sub) {
    return '#/study/' + encodeURIComponent(s) + (sub ? '/' + sub : '');
  }

  // ---------------------------------------------------------------- charts

  function destroyCharts() {
    for (const name of Object.keys(charts)) {
      charts[name].destroy();
      delete charts[name];
    }
  }

  function makeChart(name, canvas, config) {
    config.options = Object.assign({
      animation: false, responsive: true, maintainAspectRatio: false,
    }, config.options || {});
    charts[name] = new Chart(canvas.getContext('2d'), config);
    canvas.dataset.chart = name;
    return charts[name];
  }

  function chartBox(cls) {
    const canvas = h('canvas');
    return {box: h('div.chart' + (cls ? '.' + cls : ''), {}, canvas), canvas};
  }

  // Vertical dashed lines at the given x values (the pruner's rungs), labelled at the top.
  function rungPlugin(xs) {
    return {id: 'rungs', afterDatasetsDraw(chart) {
      if (!xs.length) return;
      const {ctx, chartArea, scales} = chart;
      ctx.save();
      ctx.strokeStyle = 'rgba(100,116,139,0.8)';
      ctx.fillStyle = '#475569';
      ctx.setLineDash([4, 4]);
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'center';
      for (const x of xs) {
        const px = scales.x.getPixelForValue(x);
        if (px < chartArea.left || px > chartArea.right) continue;
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.fillText('rung ' + x, px, chartArea.top - 4);
      }
      ctx.restore();
    }};
  }

  function colorFor(i) { return COLORS[i % COLORS.length]; }

  // A colour from a blue (worst) to an amber (best) ramp, for t in [0, 1].
  function ramp(t, alpha) {
    const stops = [[49, 54, 149], [69, 117, 180], [116, 173, 209], [254, 224, 144],
                   [244, 109, 67], [215, 48, 39]];
    const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
    return 'rgba(' + c.join(',') + ',' + alpha + ')';
  }

  // ---------------------------------------------------------------- studies list

  function progressBar(study) {
    const c = study.counts;
    const planned = study.planned || study.total || 1;
    const seg = (n, cls, label) => n > 0
      ? h('span.seg.' + cls, {style: {width: (100 * n / planned) + '%'}, title: n + ' ' + label})
      : null;
    const done = c.complete + c.pruned + c.failed;
    return h('div.progress-wrap', {},
      h('div.progress', {}, seg(c.complete, 'complete', 'complete'),
        seg(c.pruned, 'pruned', 'pruned'), seg(c.failed, 'failed', 'failed'),
        seg(c.running, 'running', 'running')),
      h('span.progress-label', {},
        study.planned ? fmt(done) + ' / ' + fmt(study.planned) : fmt(done) + ' done'));
  }

  function countChips(c) {
    const chip = (n, cls, label) => h('span.chip.' + cls + (n ? '' : '.zero'), {title: label},
      fmt(n) + ' ' + label);
    return h('div.chips', {}, chip(c.running, 'running', 'running'),
      chip(c.queued, 'queued', 'queued'), chip(c.failed, 'failed', 'failed'),
      c.stale ? chip(c.stale, 'stale', 'stale') : null);
  }

  // The ETA while trials run; 'done' once the budget is spent, 'idle' when stopped before.
  function eta(study) {
    const c = study.counts;
    if (!c.running && !c.queued) {
      return study.planned && c.complete + c.pruned + c.failed >= study.planned ? 'done' : 'idle';
    }
    return study.eta_seconds === null || study.eta_seconds === undefined ? '–'
      : fmtDuration(study.eta_seconds);
  }

  function renderStudies() {
    setCrumbs([]);
    const rows = ui.studies.map((s) => h('tr.study-row', {
      dataset: {study: s.name}, onclick: () => { location.hash = studyHref(s.name); }},
      h('td', {}, link(studyHref(s.name), s.name, {class: 'study-name'}),
        h('div.sub', {}, s.metric + ' · ' + s.direction)),
      h('td.wide', {}, progressBar(s)),
      h('td.num', {}, h('b', {}, fmt(s.total)), h('div.sub', {},
        fmt(s.counts.complete) + ' complete · ' + fmt(s.counts.pruned) + ' pruned')),
      h('td.num', {}, s.best ? h('span', {}, h('b', {}, fmt(s.best.value)),
        h('span.sub', {}, ' #' + s.best.number)) : '–'),
      h('td', {}, countChips(s.counts)),
      h('td.num', {}, fmtDuration(s.elapsed_seconds)),
      h('td.num', {}, eta(s)),
      h('td.num', {title: fmtTime(s.updated_at)}, fmtAgo(s.updated_at))));
    const table = h('table.grid.studies', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Study'), h('th', {}, 'Progress'),
        h('th.num', {}, 'Trials'),
        h('th.num', {}, 'Best'), h('th', {}, 'Now'), h('th.num', {}, 'Elapsed'),
        h('th.num', {}, 'ETA'), h('th.num', {}, 'Updated'))),
      h('tbody', {}, rows));
    const body = ui.studies.length ? table : h('p.muted', {}, 'No studies in this store yet.');
    const legend = h('span.legend', {}, [['complete', 'complete'], ['pruned', 'pruned'],
      ['failed', 'failed'], ['running', 'running']].map(([cls, label]) =>
      h('span', {}, h('span.swatch.' + cls), label)));
    return [card('Studies', body, {id: 'studies', tools: legend})];
  }

  // ---------------------------------------------------------------- study overview

  // order null: the API's default for the sort key (by value: best first).
  function lbState(s) {
    if (!ui.lb[s]) {
      ui.lb[s] = {sort: 'value', order: null, offset: 0, states: [], param: {name: '', value: ''}};
    }
    return ui.lb[s];
  }

  function effectiveOrder(lb, study) {
    if (lb.order) return lb.order;
    return lb.sort === 'value' && study.direction !== 'minimize' ? 'desc' : 'asc';
  }

  function selection(s) {
    if (!ui.selected[s]) ui.selected[s] = new Set();
    return ui.selected[s];
  }

  function studyHeader(study, active) {
    const s = study.name;
    const tab = (sub, label) => link(studyHref(s, sub), label,
      {class: 'tab' + (active === (sub || 'overview') ? ' active' : '')});
    const stat = (label, value, id) => h('div.stat', {id}, h('div.stat-value', {}, value),
      h('div.stat-label', {}, label));
    const c = study.counts;
    return h('div.study-head', {},
      h('div.title-row', {}, h('h1', {}, s),
        h('span.sub', {}, study.metric + ' · ' + study.direction),
        h('nav.tabs', {}, tab('', 'Overview'), tab('curves', 'Learning curves'),
          tab('ensembles', 'Ensembles'))),
      h('div.stats', {},
        stat('best ' + study.metric, study.best
          ? h('span', {}, fmt(study.best.value), ' ', link(trialHref(s, study.best.number),
            '#' + study.best.number, {class: 'sub'})) : '–', 'stat-best'),
        stat('trials', fmt(study.total) + (study.planned ? ' / ' + fmt(study.planned) : ''),
          'stat-total'),
        stat('complete · pruned · failed', [c.complete, c.pruned, c.failed].map(fmt).join(' · ')),
        stat('running · queued', fmt(c.running) + ' · ' + fmt(c.queued)),
        stat('elapsed', fmtDuration(study.elapsed_seconds)),
        stat('ETA', eta(study)),
        study.artifacts_bytes !== undefined ? stat('artifacts', fmtBytes(study.artifacts_bytes))
          : null),
      progressBar(study));
  }

  async function renderStudy(s) {
    const lb = lbState(s);
    const [study, history, importance, top, page] = await Promise.all([
      api(studyPath(s)), api(studyPath(s) + '/history'), api(studyPath(s) + '/importance'),
      queryTrials(s, {states: ['COMPLETE'], sort: 'value', limit: PARALLEL_MAX}),
      queryTrials(s, leaderboardQuery(lb))]);
    setCrumbs([[studyHref(s), s]]);
    const hist = chartBox('tall');
    const imp = chartBox('tall');
    const par = chartBox('parallel');
    const out = [
      studyHeader(study, 'overview'),
      h('div.row', {},
        card('Optimization history', hist.box, {cls: 'grow2', id: 'history-card'}),
        card('Parameter importance', importance.importances.length ? imp.box
          : h('p.muted', {}, importance.pending ? 'Computing…'
            : 'Needs at least 2 complete trials.'),
        {cls: 'grow1', id: 'importance-card',
         tools: h('span.sub', {}, importance.method + ', ' + (importance.pending
           ? 'computing' : fmt(importance.trials_used) + ' trial' +
             (importance.trials_used === 1 ? '' : 's')))})),
      card('Parallel coordinates', top.trials.length ? par.box
        : h('p.muted', {}, 'No complete trial yet.'),
      {id: 'parallel-card', tools: h('span.sub', {}, top.trials.length < top.total
        ? 'best ' + top.trials.length + ' of ' + top.total + ' complete trials'
        : top.trials.length + ' complete trial' + (top.trials.length === 1 ? '' : 's'))}),
      leaderboardCard(s, study, lb, page),
    ];
    // The server computes the importance in the background: until it is done, ask again every
    // second (the study's revision may not change meanwhile).
    clearTimeout(ui.importanceTimer);
    if (importance.pending) {
      ui.importanceTimer = setTimeout(() => {
        if (parseRoute().view === 'study' && parseRoute().study === s) refresh();
      }, IMPORTANCE_RETRY_MS);
    }
    return {nodes: out, after: () => {
      document.body.dataset.importance = importance.pending ? 'pending' : 'ready';
      historyChart(hist.canvas, study, history.trials);
      if (importance.importances.length) importanceChart(imp.canvas, importance.importances);
      if (top.trials.length) parallelChart(par.canvas, study, top.trials);
    }};
  }

  // ---------------------------------------------------------------- leaderboard

  function leaderboardQuery(lb) {
    return {states: lb.states, sort: lb.sort, order: lb.order, offset: lb.offset,
            limit: PAGE_SIZE, param: lb.param};
  }

  function leaderboardColumns(study) {
    const cols = [
      {key: 'number', label: '#', cell: (t) => t.number, num: true},
      {key: null, label: 'State', cell: (t) => badge(t.state)},
      {key: 'value', label: study.metric, cell: (t) => fmt(t.value), num: true, strong: true},
    ];
    for (const p of study.params) {
      cols.push({key: 'param.' + p.name, label: p.name, cell: (t) => fmt(t.params[p.name]),
                 num: p.type !== 'categorical', cls: 'param'});
    }
    // A metric named like a parameter (the per-epoch `lr` beside a searched `lr`) says so.
    const paramNames = new Set(study.params.map((p) => p.name));
    for (const m of study.metrics) {
      if (m === study.metric) continue;
      cols.push({key: m, label: paramNames.has(m) ? m + ' (metric)' : m,
                 cell: (t) => fmt(t.metrics[m]), num: true, cls: 'metric'});
    }
    cols.push({key: null, label: 'Epochs', num: true,
               cell: (t) => t.epochs_done + (t.best_epoch ? ' (best ' + t.best_epoch + ')' : '')});
    cols.push({key: 'duration', label: 'Duration', cell: (t) => fmtDuration(t.duration_seconds),
               num: true});
    cols.push({key: null, label: 'Worker', cell: (t) => t.worker || '–'});
    return cols;
  }

  function leaderboardFilters(s, study, lb) {
    const stateBoxes = STATES.map((st) => h('label.check', {},
      h('input', {type: 'checkbox', checked: lb.states.includes(st), dataset: {state: st},
        onchange: (e) => {
          lb.states = e.target.checked ? lb.states.concat([st]) : lb.states.filter((x) => x !== st);
          lb.offset = 0;
          refresh();
        }}), ' ', st.toLowerCase()));
    const paramSelect = h('select#filter-param', {onchange: (e) => {
      lb.param = {name: e.target.value, value: ''};
      lb.offset = 0;
      refresh();
    }}, h('option', {value: ''}, 'any parameter'),
    study.params.map((p) => h('option', {value: p.name, selected: lb.param.name === p.name},
      p.name)));
    const current = study.params.find((p) => p.name === lb.param.name);
    let valueInput = null;
    const setValue = (v) => { lb.param.value = v; lb.offset = 0; refresh(); };
    if (current && current.type === 'categorical') {
      valueInput = h('select#filter-value', {onchange: (e) => setValue(e.target.value)},
        h('option', {value: ''}, 'any value'),
        (current.choices || []).map((c) => h('option', {value: String(c),
          selected: lb.param.value === String(c)}, String(c))));
    } else if (current) {
      valueInput = h('input#filter-value', {type: 'text', placeholder: 'value', size: 10,
        value: lb.param.value, onchange: (e) => setValue(e.target.value.trim())});
    }
    return h('div.filters', {}, h('span.sub', {}, 'State:'), stateBoxes,
      h('span.sep'), h('span.sub', {}, 'Parameter:'), paramSelect, valueInput);
  }

  function leaderboardCard(s, study, lb, page) {
    const cols = leaderboardColumns(study);
    const picked = selection(s);
    const head = h('tr', {}, h('th.pick', {title: 'Pick for the learning-curves view'}, ''),
      cols.map((c) => {
        const sorted = c.key && lb.sort === c.key;
        return h('th' + (c.num ? '.num' : '') + (c.key ? '.sortable' : ''), {
          dataset: c.key ? {sort: c.key} : {},
          class: sorted ? 'sorted' : null,
          onclick: c.key ? () => sortBy(lb, c.key, study) : null},
        c.label, sorted ? h('span.arrow', {}, effectiveOrder(lb, study) === 'asc' ? ' ▲' : ' ▼')
          : null);
      }));
    const rows = page.trials.map((t) => h('tr.trial-row', {
      dataset: {trialNumber: t.number, state: t.state},
      class: study.best && study.best.number === t.number ? 'best' : null,
      onclick: (e) => {
        if (e.target.closest('input,a')) return;
        location.hash = trialHref(s, t.number);
      }},
    h('td.pick', {}, h('input', {type: 'checkbox', checked: picked.has(t.number),
      title: 'Compare learning curves', dataset: {pick: t.number},
      onchange: (e) => {
        if (e.target.checked) picked.add(t.number); else picked.delete(t.number);
        updateCompare(s);
      }})),
    cols.map((c) => h('td' + (c.num ? '.num' : '') + (c.cls ? '.' + c.cls : '') +
      (c.strong ? '.strong' : ''), {}, c.cell(t)))));
    const first = page.total ? page.offset + 1 : 0;
    const last = Math.min(page.total, page.offset + page.trials.length);
    const pager = h('div.pager', {},
      h('button#page-prev', {disabled: page.offset <= 0, onclick: () => {
        lb.offset = Math.max(0, lb.offset - PAGE_SIZE); refresh();
      }}, '‹ Prev'),
      h('span#page-info', {}, first + '–' + last + ' of ' + page.total),
      h('button#page-next', {disabled: last >= page.total, onclick: () => {
        lb.offset += PAGE_SIZE; refresh();
      }}, 'Next ›'));
    const compare = h('a#compare.button', {href: studyHref(s, 'curves')}, '');
    const body = h('div', {}, leaderboardFilters(s, study, lb),
      h('div.table-scroll', {}, h('table.grid.leaderboard#leaderboard',
        {dataset: {total: page.total}}, h('thead', {}, head), h('tbody', {}, rows))),
      h('div.table-foot', {}, pager, compare));
    setTimeout(() => updateCompare(s), 0);
    return card('Leaderboard', body, {id: 'leaderboard-card'});
  }

  function updateCompare(s) {
    const el = document.getElementById('compare');
    if (!el) return;
    const n = selection(s).size;
    el.textContent = n ? 'Compare learning curves of ' + n + ' trial' + (n > 1 ? 's' : '') + ' →'
      : 'Learning curves of the best trials →';
  }

  function sortBy(lb, key, study) {
    if (lb.sort === key) {
      lb.order = effectiveOrder(lb, study) === 'asc' ? 'desc' : 'asc';
    } else {
      lb.sort = key;
      const bestFirst = study.direction === 'minimize' ? 'asc' : 'desc';
      lb.order = key === 'value' || study.metrics.includes(key) ? bestFirst : 'asc';
    }
    lb.offset = 0;
    refresh();
  }

  // ---------------------------------------------------------------- study charts

  // Value per trial by state, the best-so-far line (complete trials), failed trials as marks at
  // the bottom. Points are {x, y} objects so Chart.js skips parsing. Above FAST_POINTS trials the
  // points are not Chart.js elements (100,000 of those take seconds): fastPointsPlugin paints
  // them in one pass and a click finds the nearest. Each dataset holds the number of trials it
  // stands for in `trials` (and, drawn by the plugin, their points in `all`).
  const FAST_POINTS = 5000;

  function historySeries(rows, minimize) {
    const byState = {COMPLETE: [], PRUNED: [], other: [], FAILED: []};
    const best = [];
    let bestValue = null;
    let lo = Infinity, hi = -Infinity;
    for (const [number, state, value] of rows) {
      if (value === null || value === undefined) {
        if (state === 'FAILED') byState.FAILED.push({x: number, y: null});
        continue;
      }
      if (value < lo) lo = value;
      if (value > hi) hi = value;
      (byState[state] || byState.other).push({x: number, y: value});
      if (state === 'COMPLETE' &&
          (bestValue === null || (minimize ? value < bestValue : value > bestValue))) {
        if (best.length) best.push({x: number, y: bestValue});  // the step
        bestValue = value;
        best.push({x: number, y: value});
      }
    }
    const first = rows.length ? rows[0][0] : 0;
    const last = rows.length ? rows[rows.length - 1][0] : 0;
    if (best.length && best[best.length - 1].x < last) best.push({x: last, y: bestValue});
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 0.05;
    for (const p of byState.FAILED) p.y = lo - pad;
    return {byState, best, first, last, low: lo - pad, high: hi + pad};
  }

  function historyChart(canvas, study, rows) {
    const h = historySeries(rows, study.direction === 'minimize');
    const fast = rows.length > FAST_POINTS;
    // Points at the ends stay whole; a margin of n + 0.5 gets no tick label of its own.
    const edge = Math.floor((h.last - h.first) * 0.01) + 0.5;
    const radius = rows.length > 2000 ? 1.5 : 3;
    const points = (label, data, color, style) => ({
      label, data: fast ? [] : data, all: fast ? data : null, trials: data.length,
      type: 'scatter', showLine: false, backgroundColor: color, borderColor: color,
      pointRadius: style === 'crossRot' ? 5 : radius, pointStyle: style || 'circle',
      pointHoverRadius: 5});
    makeChart('history', canvas, {
      type: 'scatter',
      data: {datasets: [
        {label: 'best so far', data: h.best, type: 'line', borderColor: '#f59e0b', borderWidth: 2,
         pointRadius: 0, fill: false, order: 0},
        points('complete', h.byState.COMPLETE, 'rgba(37,99,235,0.65)'),
        points('pruned', h.byState.PRUNED, 'rgba(148,163,184,0.75)', 'triangle'),
        points('other', h.byState.other, 'rgba(14,165,233,0.6)', 'rectRot'),
        points('failed', h.byState.FAILED, 'rgba(220,38,38,0.85)', 'crossRot'),
      ].filter((d) => d.trials !== 0 || d.label === 'complete' || d.label === 'pruned')},
      options: {
        parsing: false, normalized: true,
        scales: {
          x: {type: 'linear', title: {display: true, text: 'trial'},
              ticks: {callback: (v) => Number.isInteger(v) ? fmt(v) : ''},
              min: h.first - edge, max: Math.max(h.last, h.first + 1) + edge},
          y: {title: {display: true, text: study.metric}, suggestedMin: h.low,
              min: fast ? h.low : undefined, max: fast ? h.high : undefined},
        },
        plugins: {
          legend: {position: 'top', labels: {usePointStyle: true, boxWidth: 8}},
          tooltip: {callbacks: {label: (c) => c.dataset.label === 'failed'
            ? 'trial ' + c.raw.x + ': failed' : 'trial ' + c.raw.x + ': ' + fmt(c.raw.y)}},
        },
        onClick: (e, items) => {
          const n = fast ? nearestFastPoint(charts.history, e.x, e.y) : historyItem(items);
          if (n !== null) location.hash = trialHref(study.name, n);
        },
      },
      plugins: fast ? [fastPointsPlugin] : [],
    });
  }

  function historyItem(items) {
    const it = items.find((i) => charts.history.data.datasets[i.datasetIndex].label !==
      'best so far');
    return it ? charts.history.data.datasets[it.datasetIndex].data[it.index].x : null;
  }

  // Pixel transforms of a chart's linear x and y scales.
  function pixelMap(chart) {
    const {x, y} = chart.scales;
    const ax = x.getPixelForValue(1) - x.getPixelForValue(0), bx = x.getPixelForValue(0);
    const ay = y.getPixelForValue(1) - y.getPixelForValue(0), by = y.getPixelForValue(0);
    return {x: (v) => bx + ax * v, y: (v) => by + ay * v};
  }

  const fastPointsPlugin = {
    id: 'fastPoints',
    afterDatasetsDraw(chart) {
      const {ctx, chartArea} = chart;
      const map = pixelMap(chart);
      ctx.save();
      ctx.beginPath();
      ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left,
               chartArea.bottom - chartArea.top);
      ctx.clip();
      chart.data.datasets.forEach((d, i) => {
        if (!d.all || !chart.isDatasetVisible(i)) return;
        ctx.fillStyle = d.backgroundColor;
        const size = d.pointStyle === 'crossRot' ? 4 : 2;
        for (const p of d.all) ctx.fillRect(map.x(p.x) - size / 2, map.y(p.y) - size / 2, size, size);
      });
      ctx.restore();
    },
  };

  function nearestFastPoint(chart, px, py) {
    const map = pixelMap(chart);
    let best = null, bestD = 36;  // within 6 pixels
    for (const d of chart.data.datasets) {
      for (const p of d.all || []) {
        const dx = map.x(p.x) - px, dy = map.y(p.y) - py;
        if (dx * dx + dy * dy < bestD) { bestD = dx * dx + dy * dy; best = p.x; }
      }
    }
    return best;
  }

  function importanceChart(canvas, importances) {
    makeChart('importance', canvas, {
      type: 'bar',
      data: {labels: importances.map((i) => i.param), datasets: [{
        label: 'importance', data: importances.map((i) => i.importance),
        backgroundColor: importances.map((i, k) => k === 0 ? '#2563eb' : '#93c5fd'),
        borderRadius: 3, maxBarThickness: 28}]},
      options: {
        indexAxis: 'y',
        scales: {x: {min: 0, suggestedMax: 1, ticks: {callback: (v) => Math.round(v * 100) + '%'}},
                 y: {grid: {display: false}}},
        plugins: {legend: {display: false}, tooltip: {callbacks: {
          label: (c) => (c.raw * 100).toFixed(1) + '%'}}},
      },
    });
  }

  // A parameter's value mapped to [0, 1] on its axis (log axes in log space, choices by index).
  function axisOf(p, trials) {
    if (p.type === 'categorical') {
      const choices = (p.choices && p.choices.length) ? p.choices.map(String)
        : Array.from(new Set(trials.map((t) => String(t.params[p.name])))).sort();
      const n = Math.max(1, choices.length - 1);
      return {norm: (v) => choices.indexOf(String(v)) < 0 ? null : choices.indexOf(String(v)) / n,
              labels: choices};
    }
    let low = p.low, high = p.high;
    if (low === undefined || low === null || high === undefined || high === null) {
      const vs = trials.map((t) => t.params[p.name]).filter((v) => typeof v === 'number');
      low = Math.min(...vs);
      high = Math.max(...vs);
    }
    const f = p.log && low > 0 ? Math.log : (x) => x;
    const a = f(low), b = f(high);
    return {norm: (v) => typeof v !== 'number' ? null : (b === a ? 0.5 : (f(v) - a) / (b - a)),
            labels: [fmt(low), fmt(high)]};
  }

  // One line per trial over the parameters and the objective, coloured by the objective. Lines of
  // one colour band share a dataset (separated by gaps): 20 datasets draw 1,000 lines far faster
  // than 1,000 datasets. Each dataset lists its trials in `trials`, in the order of its lines.
  function parallelChart(canvas, study, trials) {
    const minimize = study.direction === 'minimize';
    const k = study.params.length;
    const axes = study.params.map((p) => Object.assign({name: p.name}, axisOf(p, trials)));
    const values = trials.map((t) => t.value).filter((v) => typeof v === 'number');
    const vlo = Math.min(...values), vhi = Math.max(...values);
    axes.push({name: study.metric, labels: [fmt(vlo), fmt(vhi)],
               norm: (v) => typeof v !== 'number' ? null
                 : (vhi === vlo ? 0.5 : (v - vlo) / (vhi - vlo))});
    const BANDS = 20;
    const bands = Array.from({length: BANDS}, () => ({data: [], trials: []}));
    for (const t of trials) {
      const score = vhi === vlo ? 1 : (t.value - vlo) / (vhi - vlo);
      const goodness = minimize ? 1 - score : score;
      const band = bands[Math.min(BANDS - 1, Math.floor(goodness * BANDS))];
      axes.forEach((a, i) => band.data.push({x: i, y: a.norm(i < k ? t.params[a.name] : t.value)}));
      band.data.push({x: k, y: null});
      band.trials.push(t);
    }
    const alpha = trials.length > 300 ? 0.35 : 0.7;
    // Worst band first, so the best lines are drawn on top.
    const datasets = bands.map((b, i) => ({
      label: 'band ' + i, data: b.data, trials: b.trials.map((t) => t.number), rows: b.trials,
      borderColor: ramp((i + 0.5) / BANDS, i === BANDS - 1 ? 0.9 : alpha),
      borderWidth: i === BANDS - 1 ? 2.2 : 1.2, pointRadius: 0, pointHoverRadius: 3,
      pointHitRadius: 4, tension: 0, spanGaps: false, order: BANDS - i}))
      .filter((d) => d.trials.length);
    const trialAt = (c) => c.dataset.rows[Math.floor(c.dataIndex / (k + 2))];
    makeChart('parallel', canvas, {
      type: 'line',
      data: {datasets},
      options: {
        parsing: false,
        layout: {padding: {top: 18, bottom: 4, left: 8, right: 8}},
        scales: {
          x: {type: 'linear', min: 0, max: k, grid: {color: '#475569', lineWidth: 1.5},
              ticks: {stepSize: 1, font: {weight: 'bold'},
                      callback: (v) => Number.isInteger(v) && axes[v] ? axes[v].name : ''}},
          y: {min: -0.02, max: 1.02, display: false},
        },
        plugins: {legend: {display: false},
          tooltip: {callbacks: {
            title: (items) => items.length ? 'trial ' + trialAt(items[0]).number : '',
            label: (c) => axes[c.raw.x].name + ': ' + axisValue(study, trialAt(c), c.raw.x)}}},
        interaction: {mode: 'nearest', intersect: false},
        onClick: (e, items) => {
          if (!items.length) return;
          const d = charts.parallel.data.datasets[items[0].datasetIndex];
          location.hash = trialHref(study.name,
            d.rows[Math.floor(items[0].index / (k + 2))].number);
        },
      },
      plugins: [parallelAxesPlugin(axes.map((a) => a.labels))],
    });
  }

  function axisValue(study, t, i) {
    return fmt(i < study.params.length ? t.params[study.params[i].name] : t.value);
  }

  // The low/high (or the choices) of each parallel axis, written beside it.
  function parallelAxesPlugin(axisLabels) {
    return {id: 'parallelAxes', afterDraw(chart) {
      const {ctx, scales} = chart;
      ctx.save();
      ctx.font = '11px system-ui, sans-serif';
      ctx.fillStyle = '#334155';
      axisLabels.forEach((labels, i) => {
        const x = scales.x.getPixelForValue(i);
        const align = i === axisLabels.length - 1 ? 'right' : 'left';
        ctx.textAlign = align;
        const dx = align === 'left' ? 4 : -4;
        const n = labels.length;
        labels.forEach((label, k) => {
          if (n > 12 && k % Math.ceil(n / 12) !== 0 && k !== n - 1) return;
          const y = scales.y.getPixelForValue(n === 1 ? 0.5 : k / (n - 1));
          ctx.fillText(label, x + dx, y + (k === 0 ? -3 : k === n - 1 ? 11 : 4));
        });
      });
      ctx.restore();
    }};
  }

  // ---------------------------------------------------------------- learning curves

  async function renderCurves(s) {
    const study = await api(studyPath(s));
    setCrumbs([[studyHref(s), s], [studyHref(s, 'curves'), 'learning curves']]);
    const picked = selection(s);
    // Nothing picked: the 10 best complete trials.
    let numbers = Array.from(picked).sort((a, b) => a - b);
    let note = numbers.length + ' picked';
    const candidates = await queryTrials(s, {sort: 'value', limit: 100});
    if (!numbers.length) {
      numbers = candidates.trials.filter((t) => t.state === 'COMPLETE').slice(0, 10)
        .map((t) => t.number);
      note = 'the ' + numbers.length + ' best complete trials (pick others below or in the ' +
        'leaderboard)';
    }
    const reported = EMBEDDED ? embedded(studyPath(s) + '/curves') : null;
    const curves = EMBEDDED
      ? reported.curves.filter((c) => numbers.includes(c.number))
      : numbers.length ? (await api(studyPath(s) + '/curves?trials=' + numbers.join(','))).curves
        : [];
    if (reported && reported.best_trials_only) {
      note += '; this report holds the curves of the ' + reported.best_trials_only +
        ' best trials only';
    }
    const chart = chartBox('curves');
    const picker = h('div.picker', {}, candidates.trials.map((t) => h('label.check', {},
      h('input', {type: 'checkbox', checked: numbers.includes(t.number),
        dataset: {pick: t.number}, onchange: (e) => {
          if (!picked.size) numbers.forEach((n) => picked.add(n));
          if (e.target.checked) picked.add(t.number); else picked.delete(t.number);
          refresh();
        }}), ' #' + t.number + ' ', h('span.sub', {}, fmt(t.value)))));
    const tools = h('span', {}, h('span.sub', {}, 'showing ' + note), ' ',
      picked.size ? h('button', {onclick: () => { picked.clear(); refresh(); }}, 'Clear') : null);
    const rungNote = study.rungs.length ? 'pruner rungs at epochs ' + study.rungs.join(', ')
      : 'no pruner';
    return {nodes: [studyHeader(study, 'curves'),
      card('Learning curves: ' + study.metric, curves.length ? chart.box
        : h('p.muted', {}, 'No epochs recorded for these trials yet.'),
      {id: 'curves-card', tools}),
      card('Trials (best 100)', picker, {id: 'picker-card', tools: h('span.sub', {}, rungNote)})],
    after: () => { if (curves.length) curvesChart(chart.canvas, study, curves); }};
  }

  function curvesChart(canvas, study, curves) {
    const datasets = curves.map((c, i) => ({
      label: '#' + c.number + (c.state === 'COMPLETE' ? '' : ' (' + c.state.toLowerCase() + ')'),
      trial: c.number,
      data: c.points.map(([x, y]) => ({x, y})),
      borderColor: colorFor(i), backgroundColor: colorFor(i),
      borderDash: c.state === 'PRUNED' ? [5, 4] : [], borderWidth: 2,
      pointRadius: c.points.length > 60 ? 0 : 2.5, tension: 0.15}));
    makeChart('curves', canvas, {
      type: 'line',
      data: {datasets},
      options: {
        parsing: false,
        layout: {padding: {top: 14}},
        scales: {x: {type: 'linear', title: {display: true, text: 'epoch'}, ticks: {precision: 0}},
                 y: {title: {display: true, text: study.metric}}},
        plugins: {legend: {position: 'right', labels: {boxWidth: 14}}},
        interaction: {mode: 'nearest', intersect: false},
      },
      plugins: [rungPlugin(study.rungs || [])],
    });
  }

  // ---------------------------------------------------------------- one trial

  function keyValueTable(obj, id) {
    const keys = Object.keys(obj || {});
    if (!keys.length) return h('p.muted', {}, 'none');
    return h('table.kv', {id}, h('tbody', {}, keys.map((k) => h('tr', {},
      h('th', {}, k), h('td.num', {}, fmt(obj[k]))))));
  }

  async function renderTrial(s, n) {
    setCrumbs([[studyHref(s), s], [trialHref(s, n), 'trial ' + n]]);
    let trial;
    try {
      trial = await api(studyPath(s) + '/trials/' + n);
    } catch (e) {
      if (e instanceof NotInReport) {
        return {nodes: [card('Trial ' + n, h('p.muted#not-in-report', {},
          'Trial ' + n + ' is not in this report (it holds the 20 best trials and the failed ones).'))]};
      }
      throw e;
    }
    const study = await api(studyPath(s));
    ui.trialSettled = ['COMPLETE', 'PRUNED', 'FAILED'].includes(trial.state);
    const metricNames = Array.from(new Set(trial.epochs.flatMap((e) => Object.keys(e.metrics))))
      .sort((a, b) => (b === study.metric) - (a === study.metric) || a.localeCompare(b));
    const epochChart = chartBox('tall');
    const info = h('div.stats', {},
      [['state', badge(trial.state)], [study.metric, h('b', {}, fmt(trial.value))],
       ['epochs', trial.epochs_done + (trial.best_epoch ? ' (best ' + trial.best_epoch + ')' : '')],
       ['duration', fmtDuration(trial.duration_seconds)], ['worker', trial.worker || '–'],
       ['retries', trial.retries], ['started', fmtTime(trial.started_at)],
       ['finished', fmtTime(trial.finished_at)]].map(([label, value]) => h('div.stat', {},
        h('div.stat-value', {}, value), h('div.stat-label', {}, label))));
    const nodes = [
      h('div.study-head', {}, h('div.title-row', {}, h('h1#trial-title', {
        dataset: {trialNumber: trial.number}}, 'Trial ' + trial.number),
      link(studyHref(s), '← ' + s, {class: 'sub'})), info),
      trial.error ? card('Error', h('pre.error#trial-error', {}, trial.error), {cls: 'danger'}) : null,
      h('div.row', {},
        card('Parameters', keyValueTable(trial.params, 'trial-params'), {cls: 'grow1'}),
        card('Final metrics', keyValueTable(objectiveFirst(trial.metrics, study.metric),
          'trial-metrics'), {cls: 'grow1'})),
      trial.epochs.length ? card('Metrics per epoch', epochChart.box, {id: 'epoch-chart-card'})
        : null,
      card('Epochs', epochTable(trial, metricNames), {id: 'epochs-card'}),
      trial.confusion ? card('Confusion matrix (validation)', confusionTable(trial.confusion),
        {id: 'confusion-card', tools: h('span.sub', {}, 'rows: true class · columns: predicted')})
        : null,
      card('Artifacts', artifactsTable(trial.artifacts), {id: 'artifacts-card'}),
    ];
    return {nodes, after: () => {
      if (trial.epochs.length) epochsChart(epochChart.canvas, trial, metricNames, study.metric);
    }};
  }

  function objectiveFirst(metrics, objective) {
    const out = {};
    if (metrics && objective in metrics) out[objective] = metrics[objective];
    return Object.assign(out, metrics);
  }

  function epochTable(trial, names) {
    if (!trial.epochs.length) return h('p.muted', {}, 'No epoch recorded.');
    return h('div.table-scroll', {}, h('table.grid#epochs', {},
      h('thead', {}, h('tr', {}, h('th.num', {}, 'epoch'), names.map((m) => h('th.num', {}, m)),
        h('th.num', {}, 'at'))),
      h('tbody', {}, trial.epochs.map((e) => h('tr.epoch-row', {
        dataset: {epoch: e.epoch}, class: trial.best_epoch === e.epoch ? 'best' : null},
      h('td.num', {}, e.epoch), names.map((m) => h('td.num', {}, fmt(e.metrics[m]))),
      h('td.num.sub', {}, fmtTime(e.at)))))));
  }

  // Each metric on its own y axis scale would clutter: metrics in [0, 1] share the left axis,
  // the others (losses) the right one.
  function epochsChart(canvas, trial, names, objective) {
    const unit = (m) => trial.epochs.every((e) => e.metrics[m] === undefined ||
      (e.metrics[m] >= 0 && e.metrics[m] <= 1));
    const datasets = names.map((m, i) => ({
      label: m, yAxisID: unit(m) ? 'y' : 'y2',
      data: trial.epochs.filter((e) => typeof e.metrics[m] === 'number')
        .map((e) => ({x: e.epoch, y: e.metrics[m]})),
      borderColor: colorFor(i), backgroundColor: colorFor(i),
      borderWidth: m === objective ? 3 : 1.5, pointRadius: trial.epochs.length > 60 ? 0 : 2.5,
      tension: 0.15}));
    const anyOther = datasets.some((d) => d.yAxisID === 'y2');
    makeChart('epochs', canvas, {
      type: 'line', data: {datasets},
      options: {
        parsing: false,
        scales: {x: {type: 'linear', title: {display: true, text: 'epoch'}, ticks: {precision: 0}},
                 y: {position: 'left', title: {display: true, text: 'scores'}},
                 y2: {position: 'right', display: anyOther, grid: {drawOnChartArea: false},
                      title: {display: true, text: 'other'}}},
        plugins: {legend: {position: 'right', labels: {boxWidth: 14}}},
        interaction: {mode: 'nearest', intersect: false},
      }});
  }

  function confusionTable(confusion) {
    const {labels, matrix} = confusion;
    const max = Math.max(1, ...matrix.flat());
    const rowSums = matrix.map((r) => r.reduce((a, b) => a + b, 0));
    return h('div.table-scroll', {}, h('table.confusion#confusion', {
      dataset: {classes: labels.length}},
    h('thead', {}, h('tr', {}, h('th.corner', {}, 'true \\ pred'),
      labels.map((l) => h('th', {}, l)))),
    h('tbody', {}, matrix.map((row, i) => h('tr', {}, h('th', {}, labels[i]),
      row.map((v, j) => {
        const t = v / max;
        return h('td', {
          style: {background: i === j ? 'rgba(37,99,235,' + (0.08 + 0.92 * t) + ')'
            : v ? 'rgba(220,38,38,' + (0.08 + 0.92 * t) + ')' : 'transparent',
          color: t > 0.55 ? '#fff' : '#0f172a'},
          title: 'true ' + labels[i] + ', predicted ' + labels[j] + ': ' + v +
            (rowSums[i] ? ' (' + (100 * v / rowSums[i]).toFixed(1) + '% of the row)' : ''),
          dataset: {count: v}}, v || '');
      }))))));
  }

  function artifactsTable(artifacts) {
    if (!artifacts || !artifacts.length) return h('p.muted', {}, 'No artifacts.');
    return h('table.grid#artifacts', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'kind'), h('th', {}, 'path'), h('th.num', {}, 'size'))),
      h('tbody', {}, artifacts.map((a) => h('tr', {}, h('td', {}, a.kind),
        h('td.path', {}, a.path), h('td.num', {}, fmtBytes(a.size_bytes))))));
  }

  // ---------------------------------------------------------------- ensembles

  // Stored metrics may nest (e.g. {"honest": {"macro_f1": ...}}): flattened to dotted keys.
  function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj || {})) {
      const key = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
      else out[key] = v;
    }
    return out;
  }

  async function renderEnsembles(s) {
    const [study, answer] = await Promise.all([api(studyPath(s)),
      api(studyPath(s) + '/ensembles')]);
    setCrumbs([[studyHref(s), s], [studyHref(s, 'ensembles'), 'ensembles']]);
    const list = answer.ensembles.slice().sort((a, b) => b.created_at - a.created_at);
    const cards = list.map((e) => ensembleCard(s, study, e));
    return {nodes: [studyHeader(study, 'ensembles'),
      cards.length ? cards : card('Ensembles', h('p.muted', {},
        'No ensemble built for this study yet (ensweep ensemble).'), {id: 'no-ensembles'})]};
  }

  function ensembleCard(s, study, e) {
    const maxWeight = Math.max(...e.members.map((m) => m.weight), 1e-12);
    const members = h('table.grid.members', {}, h('thead', {}, h('tr', {},
      h('th.num', {}, 'trial'), h('th', {}, 'weight'), h('th.num', {}, study.metric))),
    h('tbody', {}, e.members.map((m) => h('tr', {dataset: {trialNumber: m.number}},
      h('td.num', {}, link(trialHref(s, m.number), '#' + m.number)),
      h('td', {}, h('div.weight', {}, h('span.bar', {style: {width: (100 * m.weight / maxWeight)
        + '%'}}), h('span.weight-label', {}, fmt(m.weight)))),
      h('td.num', {}, fmt(m.value))))));
    const ours = flatten(e.metrics, '', {});
    const single = e.best_single ? flatten(e.best_single.metrics, '', {}) : {};
    const keys = Array.from(new Set(Object.keys(ours).concat(Object.keys(single)))).sort();
    const better = (a, b) => typeof a === 'number' && typeof b === 'number' &&
      (study.direction === 'minimize' ? a < b : a > b);
    const scores = h('table.grid.scores', {}, h('thead', {}, h('tr', {}, h('th', {}, 'score'),
      h('th.num', {}, 'ensemble'), h('th.num', {}, e.best_single
        ? h('span', {}, 'best single ', link(trialHref(s, e.best_single.number),
          '#' + e.best_single.number)) : 'best single'))),
    h('tbody', {},
      e.best_single ? h('tr', {}, h('th', {}, study.metric + ' (validation)'), h('td.num', {}, '–'),
        h('td.num', {}, fmt(e.best_single.value))) : null,
      keys.map((k) => h('tr', {}, h('th', {}, k),
        h('td.num' + (better(ours[k], single[k]) ? '.win' : ''), {}, fmt(ours[k])),
        h('td.num', {}, fmt(single[k]))))));
    return card('Ensemble ' + e.id + ' · ' + e.method, h('div.row.tight', {},
      h('div.grow1', {}, h('h3', {}, e.members.length + ' members'), members),
      h('div.grow1', {}, h('h3', {}, 'Scores'), scores)), {
      cls: 'ensemble', id: 'ensemble-' + e.id, tools: h('span.sub', {}, fmtTime(e.created_at))});
  }

  // ---------------------------------------------------------------- routing and refresh

  function setCrumbs(items) {
    const nav = document.getElementById('crumbs');
    nav.textContent = '';
    append(nav, [link('#/', 'Studies')].concat(items.flatMap(([href, text]) =>
      [h('span.crumb-sep', {}, '›'), link(href, text)])));
  }

  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter((p) => p.length);
    if (parts[0] !== 'study' || parts.length < 2) return {view: 'studies'};
    const s = decodeURIComponent(parts[1]);
    if (parts[2] === 'trial' && parts[3] !== undefined) {
      return {view: 'trial', study: s, trial: Number(parts[3])};
    }
    if (parts[2] === 'curves') return {view: 'curves', study: s};
    if (parts[2] === 'ensembles') return {view: 'ensembles', study: s};
    return {view: 'study', study: s};
  }

  async function build(route) {
    if (route.view === 'studies') return {nodes: renderStudies()};
    if (route.view === 'study') return renderStudy(route.study);
    if (route.view === 'curves') return renderCurves(route.study);
    if (route.view === 'trial') return renderTrial(route.study, route.trial);
    return renderEnsembles(route.study);
  }

  function studyRevision(name) {
    const s = ui.studies.find((x) => x.name === name);
    return s ? s.revision : null;
  }

  // Renders the current route; a refresh asked for while rendering runs once after it.
  async function refresh() {
    if (ui.rendering) { ui.pending = true; return; }
    ui.rendering = true;
    const route = parseRoute();
    const scroll = window.scrollY;
    const sameView = ui.route && JSON.stringify(ui.route) === JSON.stringify(route);
    const revision = route.study ? studyRevision(route.study) : null;
    const signature = ui.studies.map((x) => x.name + '@' + x.revision).join('|');
    try {
      const t0 = performance.now();
      const built = await build(route);
      const t1 = performance.now();
      destroyCharts();
      app.textContent = '';
      append(app, built.nodes);
      if (built.after) built.after();
      // How long the last render took: fetching (or reading) the data, building and drawing.
      // at_ms: since the page started loading.
      window.ensweepTimings = {view: route.view, data_ms: t1 - t0, draw_ms: performance.now() - t1,
                               at_ms: performance.now()};
      ui.route = route;
      ui.shownRevision = revision;
      ui.shownSignature = signature;
      document.body.dataset.view = route.view;
      if (sameView) window.scrollTo(0, scroll);
    } catch (e) {
      destroyCharts();
      app.textContent = '';
      append(app, card('Error', h('pre.error#view-error', {}, e.message || String(e)),
        {cls: 'danger'}));
      ui.route = route;
    } finally {
      ui.rendering = false;
      document.body.dataset.rendered = String(Number(document.body.dataset.rendered || 0) + 1);
    }
    if (ui.pending) { ui.pending = false; refresh(); }
  }

  async function loadStudies() {
    const answer = await api('/api/studies');
    ui.studies = answer.studies;
  }

  async function poll() {
    const live = document.getElementById('live');
    try {
      await loadStudies();
      live.className = 'live on';
      live.textContent = 'live';
      const route = parseRoute();
      const signature = ui.studies.map((x) => x.name + '@' + x.revision).join('|');
      const changed = route.view === 'studies' ? signature !== ui.shownSignature
        : route.study && studyRevision(route.study) !== ui.shownRevision;
      // Not while the user is typing in a filter or has a list open: the next poll will.
      const focused = document.activeElement;
      const busy = focused && app.contains(focused) && /^(SELECT|INPUT)$/.test(focused.tagName) &&
        focused.type !== 'checkbox';
      // A finished trial's page does not change with its study.
      const settled = route.view === 'trial' && ui.trialSettled;
      if (changed && !busy && !settled && !ui.rendering) refresh();
    } catch (e) {
      live.className = 'live off';
      live.textContent = 'offline';
    }
    setTimeout(poll, POLL_MS);
  }

  async function start() {
    window.addEventListener('hashchange', () => {
      window.scrollTo(0, 0);
      refresh();
    });
    const live = document.getElementById('live');
    if (EMBEDDED) {
      live.className = 'live report';
      live.textContent = 'report';
    }
    try {
      await loadStudies();
    } catch (e) {
      append(app, card('Error', h('pre.error', {}, e.message || String(e)), {cls: 'danger'}));
    }
    await refresh();
    if (!EMBEDDED) setTimeout(poll, POLL_MS);
  }

  start();
})();
