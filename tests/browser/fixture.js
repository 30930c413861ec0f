// A synthetic study in the shape of the dashboard's JSON API (docs/dashboard.md), and a
// self-contained page like `ensweep report`'s: the UI's files inlined, window.ENSWEEP_DATA before
// app.js. Deterministic (a seeded generator), so the browser test knows what it must draw.
'use strict';
const fs = require('fs');
const path = require('path');

function rng(seed) {  // mulberry32
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// trials: how many; the study maximises val_macro_f1 over lr (log), depth (int), model (choice).
function makeStudy(name, trials, seed) {
  const r = rng(seed);
  const models = ['custom_cnn', 'resnet18', 'efficientnet_b0'];
  const rungs = [2, 4];
  const epochsPlanned = 8;
  const t0 = 1765000000;
  const list = [];
  for (let n = 0; n < trials; ++n) {
    const lr = Math.exp(Math.log(1e-4) + r() * Math.log(1e3));
    const depth = 2 + Math.floor(r() * 7);
    const model = models[Math.floor(r() * 3)];
    const final = 0.92 - 0.04 * Math.abs(Math.log10(lr) + 2.3) ** 2 - 0.01 * Math.abs(depth - 5) -
      (model === 'custom_cnn' ? 0.05 : 0) + 0.02 * (r() - 0.5);
    const failed = n % 11 === 7;
    const pruned = !failed && n % 4 === 3;
    const epochs = failed ? 0 : pruned ? rungs[n % 2] : epochsPlanned;
    const points = [];
    for (let e = 1; e <= epochs; ++e) {
      points.push([e, final - (final - 0.1) * Math.exp(-0.45 * e) + 0.01 * (r() - 0.5)]);
    }
    const value = points.length ? points[points.length - 1][1] : null;
    const started = t0 + n * 30;
    list.push({
      number: n, state: failed ? 'FAILED' : pruned ? 'PRUNED' : 'COMPLETE', value,
      params: {lr, depth, model},
      metrics: value === null ? {} : {val_macro_f1: value, val_accuracy: value + 0.03,
                                       val_loss: 2.5 * (1 - value), lr: lr * 0.5},
      epochs_done: epochs, best_epoch: epochs || null, worker: 'local-' + (1 + (n % 2)),
      queued_at: t0, started_at: started, finished_at: started + 5 + epochs * 3,
      duration_seconds: 5 + epochs * 3,
      error: failed ? 'RuntimeError: CUDA out of memory (tried to allocate 2.00 GiB)' : '',
      retries: failed ? 1 : 0, points,
    });
  }
  return {name, trials: list, rungs, t0};
}

function counts(list) {
  const c = {complete: 0, pruned: 0, failed: 0, running: 0, queued: 0, stale: 0};
  for (const t of list) c[t.state.toLowerCase()] += 1;
  return c;
}

function apiData(study) {
  const s = encodeURIComponent(study.name);
  const base = '/api/studies/' + s;
  const withValue = study.trials.filter((t) => t.value !== null);
  const ranked = withValue.slice().sort((a, b) => b.value - a.value);
  const best = study.trials.filter((t) => t.state === 'COMPLETE').sort((a, b) => b.value - a.value)[0];
  const plain = (t) => { const {points, ...rest} = t; return rest; };
  const summary = {
    name: study.name, metric: 'val_macro_f1', direction: 'maximize', planned: study.trials.length,
    counts: counts(study.trials), total: study.trials.length,
    best: best ? {number: best.number, value: best.value} : null, created_at: study.t0,
    updated_at: study.t0 + 30 * study.trials.length, elapsed_seconds: 30 * study.trials.length,
    eta_seconds: null, revision: 'r' + study.trials.length};
  const data = {};
  data['/api/studies'] = {studies: [summary]};
  data[base] = Object.assign({}, summary, {
    spec: {study: study.name},
    params: [{name: 'lr', type: 'float', log: true, low: 1e-4, high: 0.1},
             {name: 'depth', type: 'int', log: false, low: 2, high: 8},
             {name: 'model', type: 'categorical', log: false,
              choices: ['custom_cnn', 'resnet18', 'efficientnet_b0']}],
    metrics: ['lr', 'val_accuracy', 'val_loss', 'val_macro_f1'], rungs: study.rungs,
    artifacts_bytes: 123456789});
  const rows = ranked.concat(study.trials.filter((t) => t.value === null)).map(plain);
  data[base + '/trials?limit=all'] = {total: rows.length, offset: 0, limit: 'all', trials: rows};
  data[base + '/history'] = {trials: study.trials.map((t) => [t.number, t.state, t.value,
                                                              t.finished_at])};
  data[base + '/curves'] = {metric: 'val_macro_f1', curves: study.trials.filter((t) =>
    t.points.length).map((t) => ({number: t.number, state: t.state, points: t.points}))};
  data[base + '/importance'] = {method: 'fanova', trials_used: counts(study.trials).complete,
    importances: [{param: 'lr', importance: 0.61}, {param: 'model', importance: 0.27},
                  {param: 'depth', importance: 0.12}]};
  const members = ranked.slice(0, 3);
  data[base + '/ensembles'] = {ensembles: [{id: 1, method: 'greedy', created_at: study.t0 + 9999,
    members: members.map((t, i) => ({number: t.number, weight: [0.5, 0.3, 0.2][i],
                                     value: t.value})),
    metrics: {in_sample: {macro_f1: 0.951}, honest: {macro_f1: 0.931}, eval: {macro_f1: 0.94}},
    best_single: {number: best.number, value: best.value,
                  metrics: {in_sample: {macro_f1: 0.93}, honest: {macro_f1: 0.92},
                            eval: {macro_f1: 0.925}}}}]};
  const detailed = ranked.slice(0, 20).concat(study.trials.filter((t) => t.state === 'FAILED'));
  const r = rng(99);
  for (const t of detailed) {
    const labels = Array.from({length: 6}, (_, i) => String(i));
    const matrix = labels.map((_, i) => labels.map((__, j) =>
      i === j ? 30 + Math.floor(20 * r()) : Math.floor(4 * r() * r())));
    data[base + '/trials/' + t.number] = Object.assign(plain(t), {
      epochs: t.points.map(([e, v]) => ({epoch: e, at: t.started_at + 3 * e,
        metrics: {val_macro_f1: v, val_accuracy: v + 0.03, val_loss: 2.5 * (1 - v)}})),
      artifacts: t.state === 'FAILED' ? [] : [
        {kind: 'checkpoint', path: '/runs/artifacts/' + t.number + '/model.pt', size_bytes: 4512345},
        {kind: 'val_probs', path: '/runs/artifacts/' + t.number + '/val_probs.npy', size_bytes: 23456}],
      confusion: t.state === 'FAILED' ? null : {labels, matrix}});
  }
  return data;
}

// The page `ensweep report` writes, from the web files and the data.
function reportHtml(webDir, chartJs, data) {
  const read = (f) => fs.readFileSync(f, 'utf8');
  let html = read(path.join(webDir, 'index.html'));
  const json = JSON.stringify(data).replace(/<\//g, '<\\/');
  const script = (body) => '<script>' + body + '</script>';
  html = html.replace('<link rel="stylesheet" href="style.css">',
                      () => '<style>' + read(path.join(webDir, 'style.css')) + '</style>');
  html = html.replace('<script src="chart.min.js"></script>', () => script(read(chartJs)));
  html = html.replace('<script src="app.js"></script>', () =>
    script('window.ENSWEEP_DATA = ' + json + ';') + script(read(path.join(webDir, 'app.js'))));
  return html;
}

module.exports = {makeStudy, apiData, reportHtml};

if (require.main === module) {  // node fixture.js OUT.html [TRIALS]
  const [out, trials] = process.argv.slice(2);
  const root = path.join(__dirname, '..', '..');
  const data = apiData(makeStudy('demo study', Number(trials || 60), 7));
  fs.writeFileSync(out, reportHtml(path.join(root, 'dashboard/web'),
                                   '/usr/share/javascript/chart.js/chart.min.js', data));
}
